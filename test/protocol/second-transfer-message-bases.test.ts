import { copyFileSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '../../src/store/model.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { closeJournals, verifiedTransfer } from '../helpers/transfer.js'

// docs/promises.md: what the new phone deleted stays deleted "unless the old phone changed them since", and a
// change made here (a read mark) stays over the old phone's unchanged copy. The leaf rule alone kept
// them only while the old phone left their whole leaf as it was: an edit there to a neighbour sent the
// leaf, and its unchanged messages undid what was done here. Each message is now asked on its own.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const stored = (s: SqliteChatStore, c: string, id: string): Message | undefined => [...s.listMessages({ conversations: [c] })].find(m => m.id === id)

/** An old phone with two chats, and a new phone in `dir` that verified a first transfer of them. */
async function afterFirstTransfer (): Promise<{ source: SqliteChatStore, target: SqliteChatStore, dir: string }> {
  const source = openStore()
  await fillStore(source, { conversations: 2, messagesPerConversation: 200, mediaSizes: [] })
  const dir = tempDir()
  const target = SqliteChatStore.open(dir, { create: true })
  await verifiedTransfer(source, target, { options: OPTIONS })
  return { source, target, dir }
}

/** The old phone edits `id` of c0: its leaf is no longer the one the base holds. */
function editOnOldPhone (source: SqliteChatStore, id: string, text = 'edited on the old phone'): Message {
  const edited = { ...(stored(source, 'c0', id) as Message), text, editedAt: 1_900_000_000_000 }
  source.putMessages([edited])
  return edited
}

describe('a later transfer, the old phone having changed the leaf of a message changed here', () => {
  it('a message deleted here stays deleted when the old phone edits its neighbour', async () => {
    const { source, target } = await afterFirstTransfer()
    target.deleteMessage('c0', 'm5')
    const edited = editOnOldPhone(source, 'm6')
    const run = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(stored(target, 'c0', 'm5')).toBeUndefined()
    expect(stored(target, 'c0', 'm6')).toEqual(edited)
    expect(run.receiver.progress.messagesLeftDeleted).toBe(1)
    expect(run.receiver.summary?.find(c => c.id === 'c0')?.messages).toBe(199)
    // And at the transfer after: the base still says the old phone did not change it.
    editOnOldPhone(source, 'm4', 'edited again')
    await verifiedTransfer(source, target, { options: OPTIONS })
    expect(stored(target, 'c0', 'm5')).toBeUndefined()
  })

  it('a message marked read here stays read when the old phone edits its neighbour', async () => {
    const { source, target } = await afterFirstTransfer()
    const read = { ...(stored(target, 'c0', 'm5') as Message), status: 'read' as const }
    target.putMessages([read])
    editOnOldPhone(source, 'm6')
    const run = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(stored(target, 'c0', 'm5')).toEqual(read)
    expect(run.receiver.progress.messagesKept).toBe(1)
  })

  it('a message the old phone changed since comes as it is there, deleted here or not', async () => {
    const { source, target } = await afterFirstTransfer()
    target.deleteMessage('c0', 'm5')
    target.putMessages([{ ...(stored(target, 'c0', 'm8') as Message), status: 'read' }])
    const m5 = editOnOldPhone(source, 'm5')
    const m8 = { ...(stored(source, 'c0', 'm8') as Message), status: 'delivered' as const }
    source.putMessages([m8])
    await verifiedTransfer(source, target, { options: OPTIONS })
    expect(stored(target, 'c0', 'm5')).toEqual(m5)
    expect(stored(target, 'c0', 'm8')).toEqual(m8)
  })

  it('restoreDeleted brings back a message deleted here', async () => {
    const { source, target } = await afterFirstTransfer()
    target.deleteMessage('c0', 'm5')
    editOnOldPhone(source, 'm6')
    const run = await verifiedTransfer(source, target, { options: OPTIONS, restoreDeleted: true })
    expect(stored(target, 'c0', 'm5')).toEqual(stored(source, 'c0', 'm5'))
    expect(run.receiver.progress.messagesLeftDeleted).toBe(0)
  })

  it('a history.db put back to an older copy gets what a later transfer brought again', async () => {
    const first = await afterFirstTransfer()
    const { source, dir } = first
    first.target.close()
    const snap = tempDir()
    copyFileSync(join(dir, 'history.db'), join(snap, 'history.db'))
    let target = SqliteChatStore.open(dir)
    // A message the second transfer brings, which the older copy lacks.
    source.putMessages([{ conversation: 'c0', id: 'n0', sender: 'u1', ts: 1_900_000_000_000, kind: 'text', text: 'new on the old phone' }])
    await verifiedTransfer(source, target, { options: OPTIONS })
    target.close()
    for (const f of ['history.db', 'history.db-wal', 'history.db-shm']) if (existsSync(join(dir, f))) rmSync(join(dir, f))
    copyFileSync(join(snap, 'history.db'), join(dir, 'history.db'))
    target = SqliteChatStore.open(dir)
    // The old phone changes n0's leaf: its messages come, n0 among them, which nobody deleted here.
    editOnOldPhone(source, 'm199')
    const run = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(stored(target, 'c0', 'n0')?.text).toBe('new on the old phone')
    expect(run.receiver.progress.messagesLeftDeleted).toBe(0)
    target.close()
  })
})
