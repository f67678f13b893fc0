import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openBackup, restoreBackup, writeBackup } from '../../src/backup/backup.js'
import { BASE_GENERATIONS } from '../../src/journal/base-generation.js'
import type { Journal } from '../../src/journal/journal.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Message } from '../../src/store/model.js'
import { cleanupTempDirs, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer, verifiedTransfer } from '../helpers/transfer.js'

// A store a backup was restored into, empty, continues the history it was made from (HistorySource.formerIds):
// a new phone that received from that history takes its bases over at the restored phone's first
// transfer (src/journal/former-bases.ts), once, whole, and whatever stops it part-way.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const messagesOf = (store: SqliteChatStore, conversation: string): Message[] => [...store.listMessages({ conversations: [conversation] })]

/** The old phone restored from its backup into a new, empty store. */
async function restoredFrom (old: SqliteChatStore): Promise<SqliteChatStore> {
  const file = join(tempDir(), 'old.ferrybak')
  await writeBackup(old, file, { transfer: OPTIONS })
  const restored = openStore()
  await restoreBackup(restored, journalOf(restored), await openBackup(file))
  return restored
}

/** An old phone that sent its history, and a new one whose person then deleted c0 and a message of c2. */
async function sentThenDeletedHere (): Promise<{ old: SqliteChatStore, fresh: SqliteChatStore, c0: number }> {
  const old = openStore()
  await fillStore(old, { conversations: 3, messagesPerConversation: 300, mediaSizes: [10_000] })
  const fresh = openStore()
  await verifiedTransfer(old, fresh, { options: OPTIONS })
  const c0 = messagesOf(fresh, 'c0').map(m => m.id)
  await fresh.commit({ remove: { messages: [...c0.map(id => ({ conversation: 'c0', id })), { conversation: 'c2', id: 'm7' }], conversations: ['c0'] } })
  return { old, fresh, c0: c0.length }
}

describe('a phone restored from its own backup', () => {
  it('continues the phone it was made from, and a restore of its own backup continues both', async () => {
    const { old, fresh, c0 } = await sentThenDeletedHere()
    const restored = await restoredFrom(old)
    expect(restored.historyId).not.toBe(old.historyId)
    expect(restored.formerIds).toEqual([old.historyId])
    const again = await restoredFrom(restored)
    expect(again.formerIds).toEqual([restored.historyId, old.historyId])

    const r = await verifiedTransfer(again, fresh, { options: OPTIONS })
    expect(r.receiver.progress).toMatchObject({ messagesReceived: 0, messagesLeftDeleted: c0 + 1, chatsLeftDeleted: 1 })
    expect(messagesOf(fresh, 'c0')).toEqual([])
    expect(messagesOf(fresh, 'c2').map(m => m.id)).not.toContain('m7')
  })

  it('is another phone to a new phone that never received from the one it continues', async () => {
    const old = openStore()
    await fillStore(old, { conversations: 2, messagesPerConversation: 200, mediaSizes: [10_000] })
    const restored = await restoredFrom(old)
    const fresh = openStore()
    const r = await verifiedTransfer(restored, fresh, { options: OPTIONS })
    expect(r.receiver.progress).toMatchObject({ messagesReceived: 400, messagesLeftDeleted: 0, chatsLeftDeleted: 0 })
  })

  it('takes the bases over whole at a later transfer when the first stopped while copying them', async () => {
    const { old, fresh, c0 } = await sentThenDeletedHere()
    const restored = await restoredFrom(old)
    // The receive stops at the journal write that ends the copy (a kill there): the message bases are
    // copied, nothing else is, and nothing of the transfer was written.
    const plain = journalOf(fresh)
    const stopping: Journal = Object.create(plain) as Journal
    stopping.write = async ops => {
      if (ops.some(op => 'key' in op && op.key.startsWith(BASE_GENERATIONS))) throw new Error('killed')
      await plain.write(ops)
    }
    const cut = await runTransfer(restored, fresh, { options: OPTIONS, journal: stopping })
    expect(cut.receiverError?.message).toMatch(/killed/)
    expect(messagesOf(fresh, 'c0')).toEqual([])

    const r = await verifiedTransfer(restored, fresh, { options: OPTIONS })
    expect(r.receiver.progress).toMatchObject({ messagesReceived: 0, messagesLeftDeleted: c0 + 1, chatsLeftDeleted: 1 })
    expect(messagesOf(fresh, 'c2').map(m => m.id)).not.toContain('m7')
  })

  it('is a phone of its own when the store a backup is restored into holds a history', async () => {
    const old = openStore()
    await fillStore(old, { conversations: 1, messagesPerConversation: 50, mediaSizes: [] })
    const file = join(tempDir(), 'old.ferrybak')
    await writeBackup(old, file, { transfer: OPTIONS })
    const inUse = openStore()
    inUse.putMetadata([], [{ id: 'mine', kind: 'direct', title: 'Mine', members: ['me'] }], [])
    inUse.putMessages([{ conversation: 'mine', id: 'x', sender: 'me', ts: 1_800_000_000_000, kind: 'text', text: 'its own' }])
    await restoreBackup(inUse, journalOf(inUse), await openBackup(file))
    expect(inUse.formerIds).toEqual([])
  })
})
