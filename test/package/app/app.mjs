// An app using the installed package: plain JavaScript, run by plain `node` with no loader. It writes
// an old phone's history through the public API, moves it to a new phone over loopback, and prints
// what the new phone holds, as JSON, for ../install.test.ts to check.
import { join } from 'node:path'
import { compareKeys, isFerryError, parseCode } from 'chat-ferry'
import { createFerry, generateCode, SqliteChatStore } from 'chat-ferry/node'

const [dir] = process.argv.slice(2)
const oldDir = join(dir, 'old-phone')
const newDir = join(dir, 'new-phone')

const photo = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251)
const store = SqliteChatStore.open(oldDir, { create: true })
const { sha256, size } = await store.writeMedia((async function * () { yield photo.subarray(0, 100_000); yield photo.subarray(100_000) })())
store.putMetadata(
  [{ id: 'ana', name: 'Ana' }, { id: 'me', name: 'Me' }],
  [{ id: 'chat-ana', kind: 'direct', title: 'Ana', members: ['ana', 'me'] }],
  [{ sha256, size, mime: 'image/jpeg' }])
const sent = Array.from({ length: 1000 }, (_, i) => ({
  conversation: 'chat-ana', id: `m${i}`, sender: i % 3 === 0 ? 'ana' : 'me', ts: 1_700_000_000_000 + i * 60_000, kind: 'text', text: `message ${i} ✓`
}))
sent.push({ conversation: 'chat-ana', id: 'photo', sender: 'ana', ts: 1_700_000_000_000 + 30_000, kind: 'image', media: sha256 })
store.putMessages(sent)
store.close()

const oldPhone = await createFerry(oldDir, { listen: ['/ip4/127.0.0.1/tcp/0'] })
const newPhone = await createFerry(newDir, { listen: ['/ip4/127.0.0.1/tcp/0'] })
const code = generateCode()
const events = new Set()
const offered = oldPhone.send({ code })
const received = await newPhone.receive({ addrs: oldPhone.addresses(), code, onEvent: e => events.add(e.type) })
await offered

const held = [...newPhone.store.listMessages()]
const expected = [...sent].sort(compareKeys)
const same = held.length === expected.length && held.every((m, i) => JSON.stringify(m) === JSON.stringify(expected[i]))
const media = Buffer.from(await newPhone.store.readMedia(sha256, 0, size)).equals(photo)
let badCode
try {
  parseCode('12-34')
} catch (err) {
  badCode = isFerryError(err) ? err.code : `not a FerryError: ${err}`
}
await oldPhone.stop()
await newPhone.stop()
process.stdout.write(JSON.stringify({ events: [...events], summary: received.summary, messages: held.length, same, media, badCode }) + '\n')
