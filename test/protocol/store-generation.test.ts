import { copyFileSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer, verifiedTransfer } from '../helpers/transfer.js'
import type { Journal } from '../../src/journal/journal.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'

// The bases a verified transfer records (what the new phone's owner deleted stays deleted) describe the
// store as that transfer left it. A history.db put back to an older copy of itself, while Ferry's
// journal is not, lacks what later transfers brought: the bases must not keep that out as if deleted
// here, where a person who then wipes the old phone loses it.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

/** The old phone goes on being used: `n` messages more in c0, after all the others. */
function writeOnOldPhone (old: SqliteChatStore, n: number, tag: string): string[] {
  const ids = Array.from({ length: n }, (_, i) => `${tag}${i}`)
  old.putMessages(ids.map((id, i) => ({ conversation: 'c0', id, sender: 'u1', ts: 1_900_000_000_000 + i, kind: 'text' as const, text: `new ${id}` })))
  return ids
}

/** What the app does when its owner deletes messages: a change through the store port. */
async function deleteHere (store: SqliteChatStore, conversation: string, ids: string[]): Promise<void> {
  await store.commit({ remove: { messages: ids.map(id => ({ conversation, id })) } })
}

/** Puts the store's history.db back to the copy in `snap` (the WAL and its index go: they are newer). */
function putBack (dir: string, snap: string): void {
  for (const f of ['history.db', 'history.db-wal', 'history.db-shm']) if (existsSync(join(dir, f))) rmSync(join(dir, f))
  copyFileSync(join(snap, 'history.db'), join(dir, 'history.db'))
}

/** An old phone with two chats, and a new phone that verified a first transfer of them. */
async function afterFirstTransfer (): Promise<{ old: SqliteChatStore, dir: string, phone: SqliteChatStore }> {
  const old = openStore()
  await fillStore(old, { conversations: 2, messagesPerConversation: 200, mediaSizes: [] })
  const dir = tempDir()
  const phone = SqliteChatStore.open(dir, { create: true })
  await verifiedTransfer(old, phone, { options: OPTIONS })
  return { old, dir, phone }
}

/** The same store seen through a port without StoreGenerations: an app store that does not implement it. */
function withoutGenerations (store: SqliteChatStore): SqliteChatStore {
  return new Proxy(store, {
    get: (t, p) => {
      if (p === 'generations') return undefined
      const v = Reflect.get(t, p, t) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
    }
  })
}

describe('bases and the generation of the store they describe', () => {
  it('a history.db put back to an older copy gets what later transfers brought again, not kept out as deleted', async () => {
    let { old, dir, phone } = await afterFirstTransfer()
    phone.close()
    const snap = tempDir()
    copyFileSync(join(dir, 'history.db'), join(snap, 'history.db'))
    phone = SqliteChatStore.open(dir)
    const added = writeOnOldPhone(old, 50, 'n')
    await verifiedTransfer(old, phone, { options: OPTIONS })
    phone.close()
    putBack(dir, snap)
    phone = SqliteChatStore.open(dir)

    const run = await verifiedTransfer(old, phone, { options: OPTIONS })

    expect(run.receiver.progress.messagesLeftDeleted).toBe(0)
    expect((await phone.findMessages('c0', added)).length).toBe(added.length)
    expect([...phone.listMessages()].length).toBe([...old.listMessages()].length)
    // The transfer recorded bases of the store as it is now: what its owner deletes from here on stays deleted.
    await deleteHere(phone, 'c0', ['n0'])
    const next = await verifiedTransfer(old, phone, { options: OPTIONS })
    expect(next.receiver.progress.messagesLeftDeleted).toBe(1)
    expect(await phone.findMessages('c0', ['n0'])).toEqual([])
    phone.close()
  })

  it('an app store without the port keeps its bases as before: a deletion here stays deleted', async () => {
    const old = openStore()
    await fillStore(old, { conversations: 2, messagesPerConversation: 200, mediaSizes: [] })
    const phone = openStore()
    const app = withoutGenerations(phone)
    await verifiedTransfer(old, app, { options: OPTIONS })
    const added = writeOnOldPhone(old, 50, 'n')
    await verifiedTransfer(old, app, { options: OPTIONS })
    await deleteHere(phone, 'c0', added.slice(0, 10))

    const run = await verifiedTransfer(old, app, { options: OPTIONS })

    expect(run.receiver.progress.messagesLeftDeleted).toBe(10)
    expect(await phone.findMessages('c0', added.slice(0, 10))).toEqual([])
    expect(await phone.generations.generation(old.historyId)).toBeUndefined()
    phone.close()
  })

  it('a crash between the store\'s new generation and the journal\'s ends on the safe side, and the next transfer settles it', async () => {
    const { old, dir, phone } = await afterFirstTransfer()
    const added = writeOnOldPhone(old, 50, 'n')
    await verifiedTransfer(old, phone, { options: OPTIONS })
    await deleteHere(phone, 'c0', added.slice(0, 10))
    writeOnOldPhone(old, 5, 'm')
    // The process dies as the journal would record the transfer verified (the write that holds TransferLog's
    // 'verified' record), after the store took its new generation: that write never happens.
    const real = journalOf(phone)
    const dying: Journal = new Proxy(real, {
      get: (t, p) => {
        if (p === 'write') {
          return async (ops: Parameters<Journal['write']>[0]) => {
            if (ops.some(op => 'key' in op && op.key === 'verified')) throw new Error('the process died')
            await t.write(ops)
          }
        }
        const v = Reflect.get(t, p, t) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
      }
    })
    const cut = await runTransfer(old, phone, { options: OPTIONS, journal: dying })
    expect(cut.receiver.state).toBe('failed')
    phone.close()
    const reopened = SqliteChatStore.open(dir)

    // The bases cannot say which store they describe: what they kept out comes again, nothing stays out.
    const run = await verifiedTransfer(old, reopened, { options: OPTIONS })
    expect(run.receiver.progress.messagesLeftDeleted).toBe(0)
    expect([...reopened.listMessages()].length).toBe([...old.listMessages()].length)
    // Verified, the store and the journal agree again: a deletion stays deleted.
    await deleteHere(reopened, 'c0', added.slice(0, 10))
    const next = await verifiedTransfer(old, reopened, { options: OPTIONS })
    expect(next.receiver.progress.messagesLeftDeleted).toBe(10)
    reopened.close()
  })
})
