// An app's backup through the installed package, in plain node: an old phone's history written to an
// encrypted backup file, a wrong password refused, and the file restored into a new phone, as
// `ferry backup` and `ferry restore` do. Prints what it saw, as JSON, for ../install.test.ts.
import { join } from 'node:path'
import { compareKeys, isFerryError } from 'chat-ferry'
import { createFerry, openBackup, readBackupHeader, restoreBackup, writeBackup } from 'chat-ferry/node'

const [dir] = process.argv.slice(2)
const file = join(dir, 'chats.ferrybak')
const oldPhone = await createFerry(join(dir, 'old-phone'))
oldPhone.store.putMetadata([{ id: 'ana', name: 'Ana' }, { id: 'me', name: 'Me' }], [{ id: 'chat-ana', kind: 'direct', title: 'Ana', members: ['ana', 'me'] }], [])
const sent = Array.from({ length: 50 }, (_, i) => ({ conversation: 'chat-ana', id: `m${i}`, sender: i % 2 ? 'me' : 'ana', ts: 1_700_000_000_000 + i, kind: 'text', text: `message ${i}` }))
oldPhone.store.putMessages(sent)
const written = await writeBackup(oldPhone.store, file, { password: 'correct horse' })
await oldPhone.stop()

const header = await readBackupHeader(file)
let wrong
try {
  await openBackup(file, 'wrong horse')
} catch (err) {
  wrong = isFerryError(err) ? { code: err.code, message: err.message } : `not a FerryError: ${err}`
}
const newPhone = await createFerry(join(dir, 'new-phone'))
await restoreBackup(newPhone.store, newPhone.journal, await openBackup(file, 'correct horse'))
const held = [...newPhone.store.listMessages()]
await newPhone.stop()
const same = JSON.stringify(held) === JSON.stringify([...sent].sort(compareKeys))
process.stdout.write(JSON.stringify({ fileBytes: written.fileBytes, password: header.password, wrong, messages: held.length, same }) + '\n')
