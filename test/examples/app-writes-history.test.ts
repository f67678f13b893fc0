import { afterEach, expect, it } from 'vitest'
// The package by its name, as an app imports it (dist/, built by test/global-setup.ts).
import { createFerry, generateCode, isFerryError, type Ferry, type Message } from 'chat-ferry/node'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// An app that writes its old phone's history into createFerry's store, as docs/embedding.md
// does, with a mistake in it: the store refuses it at once, saying which message, rather than taking it
// and failing every transfer of that chat at verification, where the app can no longer tell why.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const T = Date.UTC(2026, 0, 1)
const toStop: Ferry[] = []

afterEach(async () => {
  for (const phone of toStop.splice(0)) await phone.stop()
  cleanupTempDirs()
})

async function phone (): Promise<Ferry> {
  const p = await createFerry(tempDir('app-writes-'), { listen: LOOPBACK })
  toStop.push(p)
  return p
}

it('refuses a message whose ts is no integer, naming it, writes nothing of the call, and the history still moves', async () => {
  const oldPhone = await phone()
  oldPhone.store.putMetadata([{ id: 'ana', name: 'Ana' }], [{ id: 'chat-ana', kind: 'direct', title: 'Ana', members: ['ana'] }], [])
  const good: Message = { conversation: 'chat-ana', id: 'm1', sender: 'ana', ts: T, kind: 'text', text: 'hi' }
  // A date where the epoch milliseconds belong: a JavaScript app's easy slip, and no TypeScript to catch it.
  const slip = { conversation: 'chat-ana', id: 'm2', sender: 'ana', ts: new Date(T + 1).toISOString(), kind: 'text', text: 'later' } as unknown as Message

  let refused: unknown
  try {
    oldPhone.store.putMessages([good, slip])
  } catch (err) {
    refused = err
  }
  expect(isFerryError(refused, 'BAD_INPUT'), String(refused)).toBe(true)
  expect((refused as Error).message).toBe('message "chat-ana"/"m2": its ts must be an integer (milliseconds since the epoch), not "2026-01-01T00:00:00.001Z"')
  expect([...oldPhone.store.listMessages()]).toEqual([])

  oldPhone.store.putMessages([good, { ...slip, ts: T + 1 }])
  const newPhone = await phone()
  const code = generateCode()
  const offered = oldPhone.send({ code })
  const { summary } = await newPhone.receive({ addrs: oldPhone.addresses(), code })
  await offered
  expect(summary).toEqual([{ id: 'chat-ana', title: 'Ana', messages: 2 }])
})

it('refuses a message in a chat the store does not hold, or naming a photo it holds no record of, and every message put moves', async () => {
  const oldPhone = await phone()
  oldPhone.store.putMetadata([{ id: 'ana', name: 'Ana' }], [{ id: 'chat-ana', kind: 'direct', title: 'Ana', members: ['ana'] }], [])
  const good: Message = { conversation: 'chat-ana', id: 'm1', sender: 'ana', ts: T, kind: 'text', text: 'hi' }
  // The app's slips: a chat id it never put (a typo, a chat it meant to add), and a photo's file stored
  // without its record (writeMedia stores bytes, putMetadata the record).
  const lost: Message = { conversation: 'chat-anna', id: 'm2', sender: 'ana', ts: T + 1, kind: 'text', text: 'where am I?' }
  const bytes = new TextEncoder().encode('a photo of the beach')
  const { sha256, size } = await oldPhone.store.writeMedia((async function * () { yield bytes })())
  const shot: Message = { conversation: 'chat-ana', id: 'm3', sender: 'ana', ts: T + 2, kind: 'image', media: sha256 }

  const refusal = (messages: Message[]): Error => {
    try {
      oldPhone.store.putMessages(messages)
    } catch (err) {
      expect(isFerryError(err, 'BAD_INPUT'), String(err)).toBe(true)
      return err as Error
    }
    throw new Error('not refused')
  }
  expect(refusal([good, lost]).message).toMatch(/^message "chat-anna"\/"m2": its conversation "chat-anna" is not in the store, so it would never be sent/)
  expect(refusal([good, shot]).message).toMatch(new RegExp(`^message "chat-ana"/"m3": it names media ${sha256}, which has no record in the store`))
  expect([...oldPhone.store.listMessages()]).toEqual([])

  oldPhone.store.putMetadata([], [{ id: 'chat-anna', kind: 'direct', title: 'Anna', members: ['ana'] }], [{ sha256, size, mime: 'image/jpeg' }])
  oldPhone.store.putMessages([good, lost, shot])
  const newPhone = await phone()
  const code = generateCode()
  const offered = oldPhone.send({ code })
  const { summary } = await newPhone.receive({ addrs: oldPhone.addresses(), code })
  await offered
  expect(summary).toEqual([{ id: 'chat-ana', title: 'Ana', messages: 2 }, { id: 'chat-anna', title: 'Anna', messages: 1 }])
  expect(newPhone.store.hasMediaFile(sha256)).toBe(true)
})
