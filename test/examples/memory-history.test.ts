import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, afterEach, expect, it } from 'vitest'
// The package by its name, as an app imports it (dist/, built by test/global-setup.ts).
import { createFerry, createFerryNode, ferry, generateCode, NodeJournal, type Ferry, type History } from 'chat-ferry/node'
import { MemoryHistory } from '../../examples/memory-history.js'
import { describeHistoryConformance } from '../helpers/history-conformance.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// The smallest store an app can write (examples/memory-history.js, Maps in memory) against the History
// port's contract, and moving a history each way with the simulator's store over libp2p on loopback.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const T = 1_700_000_000_000
const toStop: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const stop of toStop.splice(0).reverse()) await stop()
})
afterAll(cleanupTempDirs)

describeHistoryConformance('the in-memory example store', () => ({ history: new MemoryHistory(), close: () => {} }))

async function memoryPhone (history: History) {
  const dir = tempDir('memory-phone-')
  const journal = NodeJournal.open(dir)
  const node = await createFerryNode({ dir, listen: LOOPBACK, services: { ferry: ferry({ history, journal }) } })
  toStop.push(async () => { await node.stop(); await journal.close() })
  return { node, history }
}

async function simPhone (): Promise<Ferry> {
  const phone = await createFerry(tempDir('sim-phone-'), { listen: LOOPBACK })
  toStop.push(async () => await phone.stop())
  return phone
}

it('bundles for a browser app with no Node built-in', async () => {
  // No plugin and nothing external: a Node built-in anywhere in its graph fails this build.
  const entry = fileURLToPath(new URL('../../examples/memory-history.js', import.meta.url))
  // tsconfigRaw: not the repository's tsconfig, whose paths point `chat-ferry` at src/: the name then
  // resolves to the package's build, whose `browser` field a bundler follows, as in an app.
  const bundle = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', tsconfigRaw: '{}' })
  expect(bundle.outputFiles[0].text).not.toMatch(/["']node:/)
})

const photo = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251)

it('sends a history from the in-memory store to a phone with the simulator\'s store, verified', async () => {
  const history: History = new MemoryHistory()
  const { sha256 } = await (await simPhone()).store.writeMedia((async function * () { yield photo })())
  await history.commit({
    contacts: [{ id: 'ana', name: 'Ana' }, { id: 'me', name: 'Me' }],
    conversations: [{ id: 'chat-ana', kind: 'direct', title: 'Ana 😀', members: ['ana', 'me'] }],
    media: [{ sha256, size: photo.byteLength, mime: 'image/jpeg' }],
    messages: [
      { conversation: 'chat-ana', id: 'm1', sender: 'ana', ts: T, kind: 'text', text: 'hi' },
      { conversation: 'chat-ana', id: '😀', sender: 'me', ts: T + 1, kind: 'image', media: sha256 }
    ]
  })
  await history.putMedia({ sha256, size: photo.byteLength, mime: 'image/jpeg', bytes: photo, stream: async function * () { yield photo } })
  const old = await memoryPhone(history)
  const newPhone = await simPhone()
  const code = generateCode()
  const offered = old.node.services.ferry.offer({ code })
  const { summary, stats } = await newPhone.receive({ addrs: old.node.getMultiaddrs(), code })
  await offered
  expect(summary).toEqual([{ id: 'chat-ana', title: 'Ana 😀', messages: 2 }])
  expect(stats).toMatchObject({ messagesSent: 2, mediaFilesSent: 1 })
  expect(Buffer.from(await newPhone.store.readMedia(sha256, 0, photo.byteLength)).equals(photo)).toBe(true)
})

it('receives a history into the in-memory store, and a second transfer moves only what changed', async () => {
  const oldPhone = await simPhone()
  oldPhone.store.putMetadata([{ id: 'bo', name: 'Bo' }], [{ id: 'chat-bo', kind: 'group', title: 'Bo', members: ['bo'] }], [])
  oldPhone.store.putMessages(Array.from({ length: 30 }, (_, i) => ({ conversation: 'chat-bo', id: `m${i}`, sender: 'bo', ts: T + i, kind: 'text' as const, text: `message ${i}` })))
  const history: History = new MemoryHistory()
  const phone = await memoryPhone(history)
  const move = async (): Promise<Awaited<ReturnType<Ferry['receive']>>> => {
    const code = generateCode()
    const offered = oldPhone.send({ code })
    const result = await phone.node.services.ferry.receive({ addrs: oldPhone.addresses(), code })
    await offered
    return result
  }
  expect((await move()).stats).toMatchObject({ messagesSent: 30, messagesHeld: 0 })
  expect((await history.messages('chat-bo', undefined, 100)).map(m => m.id)).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`))

  oldPhone.store.putMessages([{ conversation: 'chat-bo', id: 'late', sender: 'bo', ts: T + 100, kind: 'text', text: 'one more' }])
  const again = await move()
  expect(again.stats).toMatchObject({ messagesSent: 1, messagesHeld: 30 })
  expect(again.summary).toEqual([{ id: 'chat-bo', title: 'Bo', messages: 31 }])
})
