// A photo the person deleted on the new phone stays deleted at the next transfer: its receive puts the
// records gone back for a moment and removes again those no message shows (MediaIntake.verifyPresent).
// A `ferry receive` killed between the two (SIGKILL, held there by FERRY_TEST_HOLD_PUT_BACK) leaves the
// record of a file that is not here. Resumed, the transfer must verify with the photo still deleted (not
// fetched again, counted as staying deleted); taken back by another transfer instead, the store must
// hold no record without its file. Real `ferry send` / `ferry receive` processes on loopback.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, inspect, killAll, newStorePath, seedStore, senderReady, startReceiver, startSender, type FerryProcess
} from './helpers/ferry-cli.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'

const FIRST = '603-2254-7108'
const SECOND = '271-8281-8284'

let source: string
let other: string

beforeAll(async () => {
  source = await seedStore('tiny')
  other = await seedStore('tiny', 2)
}, 120_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

async function bothExit (receiver: FerryProcess, sender: FerryProcess): Promise<void> {
  const [r, s] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
  expect(r.code, receiver.describe()).toBe(0)
  expect(s.code, sender.describe()).toBe(0)
}

/** Deletes on the new phone, as its app does, a message showing a photo no other message shows, with the photo. */
async function deletePhoto (dir: string): Promise<string> {
  const phone = SqliteChatStore.open(dir)
  try {
    const all = [...phone.listMessages()]
    const shown = new Map<string, number>()
    for (const m of all) if (m.media !== undefined) shown.set(m.media, (shown.get(m.media) ?? 0) + 1)
    const m = all.find(m => m.media !== undefined && shown.get(m.media) === 1 && phone.hasMediaFile(m.media))
    if (m?.media === undefined) throw new Error('the seeded history has no photo only one message shows')
    await phone.commit({ remove: { messages: [{ conversation: m.conversation, id: m.id }], media: [m.media] } })
    return m.media
  } finally {
    phone.close()
  }
}

function photoHere (dir: string, sha256: string): { record: boolean, file: boolean } {
  const phone = SqliteChatStore.open(dir)
  try {
    return { record: phone.hasMediaRecord(sha256), file: phone.hasMediaFile(sha256) }
  } finally {
    phone.close()
  }
}

/**
 * A first transfer, a photo deleted on the new phone, then a second transfer from the same old phone
 * killed once the photo's record is put back and before it is removed again. Returns the old phone's
 * `ferry send`, waiting for the new phone, and what the new phone held before the second transfer.
 */
async function killedAtPutBack (): Promise<{ store: string, target: string, sender: FerryProcess, photo: string, before: Awaited<ReturnType<typeof inspect>> }> {
  const store = copyStore(source)
  const target = newStorePath()
  let sender = startSender(store, { code: FIRST })
  let ready = await senderReady(sender)
  await bothExit(startReceiver(target, { code: FIRST, peer: ready.addr, extra: ['--no-sweep'] }), sender)
  const photo = await deletePhoto(target)
  const before = await inspect(target)
  expect(before.stats.mediaMissing).toBe(0)

  sender = startSender(store, { code: SECOND, extra: ['--timeout', '60'] })
  ready = await senderReady(sender)
  const receiver = startReceiver(target, { code: SECOND, peer: ready.addr, extra: ['--no-sweep'], env: { FERRY_TEST_HOLD_PUT_BACK: '1' } })
  expect((await receiver.waitEvent('held', 60_000)).after).toBe('put back')
  const mark = sender.events.length
  expect((await receiver.kill9()).signal).toBe('SIGKILL')
  await sender.waitEvent('interrupted', 20_000, mark)
  // The window itself: the deleted photo's record stands, its file is not here.
  expect(photoHere(target, photo)).toEqual({ record: true, file: false })
  expect((await inspect(target)).stats.mediaMissing).toBe(1)
  return { store, target, sender, photo, before }
}

describe('ferry receive killed between the put-back of deleted photos and their removal', () => {
  it('resumed, the transfer verifies and the photo stays deleted, not fetched again', async () => {
    const { target, sender, photo, before } = await killedAtPutBack()
    const again = startReceiver(target, { name: 'receiver (restarted)', extra: ['--no-sweep'] }) // its pairing record
    await bothExit(again, sender)
    const verified = await again.waitEvent('verified')
    expect(verified.stats).toMatchObject({ mediaFilesSent: 0, mediaBytesSent: 0, mediaLeftDeleted: 1, messagesLeftDeleted: 1 })
    expect(photoHere(target, photo)).toEqual({ record: false, file: false })
    const after = await inspect(target)
    expect(after.stats).toEqual(before.stats)
    expect(after.transfers).toEqual([])
  }, 180_000)

  it('taken back by a transfer from another phone, the store holds no record without its file', async () => {
    const { target, photo, before } = await killedAtPutBack()
    const sender = startSender(copyStore(other, 'another-phone'), { code: FIRST })
    const ready = await senderReady(sender)
    const receiver = startReceiver(target, { code: FIRST, peer: ready.addr, extra: ['--no-sweep'] })
    await bothExit(receiver, sender)
    expect(photoHere(target, photo)).toEqual({ record: false, file: false })
    const after = await inspect(target)
    expect(after.stats.mediaMissing).toBe(0)
    expect(after.transfers).toEqual([])
    // What the first transfer verified is kept, and the other phone's history joins it.
    expect(after.stats.messages).toBe(before.stats.messages + (await inspect(other)).stats.messages)
  }, 180_000)
})
