import Database from 'better-sqlite3'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer, verifiedTransfer } from '../helpers/transfer.js'
import type { Message } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Frame } from '../../src/wire/codec.js'

// The old phone is in use while it sends: its app stores a message that arrives, and its person
// deletes or edits one. The transfer moves the history as it was when its manifest was made, verified;
// what changed since comes with the next transfer, which moves only that.

// A window far smaller than one chat: when the first batch arrives, the sender is still at the first
// chat, and the last one (where the app writes) is not read yet.
const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }
const CHAT = 'c3'

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

async function oldPhone (): Promise<SqliteChatStore> {
  const source = openStore()
  await fillStore(source, { conversations: 4, messagesPerConversation: 1000, mediaSizes: [20_000] })
  return source
}

/** Every message of a store, each as one line, in order. */
function messageLines (store: SqliteChatStore): string[] {
  return [...store.listMessages()].map(m => JSON.stringify(m))
}

/** Runs `write` on the old phone as the new phone takes in the first batch of messages (once). */
function whenFirstBatchArrives (write: () => void): (frame: Frame) => void {
  let done = false
  return frame => {
    if (done || (frame.body !== 'batch' && frame.body !== 'deflatedBatch')) return
    done = true
    write()
  }
}

const text = (id: string, ts: number, body: string): Message => ({ conversation: CHAT, id, sender: 'u1', ts, kind: 'text', text: body })

const changes: Array<{ name: string, write: (s: SqliteChatStore) => void, moved: number }> = [
  { name: 'a message deleted', write: s => { s.deleteMessage(CHAT, 'm5') }, moved: 0 },
  { name: 'a message stored among the old ones', write: s => { s.putMessages([text('late-past', 1_700_000_000_500, 'arrived late, dated back')]) }, moved: 1 },
  { name: 'a message edited', write: s => { s.putMessages([text('m8', 1_700_000_004_000, 'edited while it was being sent')]) }, moved: 1 },
  { name: 'a message arriving', write: s => { s.putMessages([text('live', 1_800_000_000_000, 'arrived while sending')]) }, moved: 1 }
]

describe('an old phone in use while it sends', () => {
  it.each(changes)('$name: the history as the manifest had it moves verified, and the change with the next transfer', async ({ write, moved }) => {
    const source = await oldPhone()
    const target = openStore()
    const asManifested = messageLines(source)

    const first = await verifiedTransfer(source, target, { options: OPTIONS, onReceived: whenFirstBatchArrives(() => write(source)) })
    expect(messageLines(source)).not.toEqual(asManifested) // the app did write while it ran
    expect(first.receiver.progress.messagesReceived).toBe(asManifested.length)
    expect(messageLines(target)).toEqual(asManifested)

    // The next transfer brings what changed, and only that; moving never deletes (a message deleted on
    // the old phone stays on the new one).
    const second = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(second.receiver.progress.messagesReceived).toBe(moved)
    expect(messageLines(target)).toEqual(moved === 0 ? asManifested : messageLines(source))
    source.close()
    target.close()
  })

  it('lets go of the store\'s snapshot when the session ends, verified or cut off', async () => {
    const source = await oldPhone()
    // Asks once, never waiting on a reader (a checkpoint's busy handler would).
    const wal = new Database(join(source.dir, 'history.db'), { timeout: 0 })
    // Whether the WAL could be started over now: not while a reader holds a snapshot in it.
    const walFree = (): boolean => (wal.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>)[0].busy === 0
    let heldMeanwhile: boolean | undefined
    const during = whenFirstBatchArrives(() => {
      source.putMessages([text('live', 1_800_000_000_000, 'arrived while sending')])
      heldMeanwhile = !walFree()
    })

    const cut = await runTransfer(source, openStore(), { options: OPTIONS, onReceived: during, cutAtAtoB: 200_000 })
    expect(cut.receiver.state).not.toBe('verified')
    expect(heldMeanwhile).toBe(true)
    expect(walFree()).toBe(true)

    heldMeanwhile = undefined
    const later = whenFirstBatchArrives(() => {
      source.putMessages([text('later', 1_800_000_000_001, 'arrived while sending again')])
      heldMeanwhile = !walFree()
    })
    await verifiedTransfer(source, openStore(), { options: OPTIONS, onReceived: later })
    expect(heldMeanwhile).toBe(true)
    expect(walFree()).toBe(true)
    wal.close()
    source.close()
  })
})
