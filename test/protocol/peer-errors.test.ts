// What one phone tells the other when its own store fails: the code, and that it knows why, never its
// own message (a file path, an app's table, a driver's text). Its own app still gets the whole story.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/errors.js'
import type { HistorySink, HistorySource } from '../../src/store/history.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer } from '../helpers/transfer.js'

const SECRET = "ENOENT: no such file or directory, open '/data/user/0/com.example.chat/files/secret-table.db'"

/** `store` with one method replaced by one that fails as a real store's driver does (its snapshot's too). */
function failing<T extends object> (store: T, method: string): T {
  return new Proxy(store, {
    get (target, key) {
      if (key === method) return async () => { throw new Error(SECRET) }
      if (key === 'snapshot' && 'snapshot' in target) return async () => failing(await (target as unknown as HistorySource).snapshot?.() as object, method)
      const v = Reflect.get(target, key, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}

let source: SqliteChatStore

beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 2, messagesPerConversation: 50, mediaSizes: [30_000] })
})

afterAll(async () => {
  source.close()
  await closeJournals()
  cleanupTempDirs()
})

describe('a store failing on one phone', () => {
  it('the old phone\'s: the new phone hears STORE, not its message', async () => {
    const target = openStore()
    const r = await runTransfer(failing<HistorySource>(source, 'readMedia'), target)
    expect(r.senderError?.code).toBe(ErrorCode.STORE)
    expect(r.senderError?.message).toContain(SECRET)
    expect(r.receiverError?.code).toBe(ErrorCode.PEER_ERROR)
    expect(r.receiverError?.details?.peerCode).toBe(ErrorCode.STORE)
    expect(r.receiverError?.message).toMatch(/sender reported STORE: its store failed/)
    expect(r.receiverError?.message).not.toContain('/data/user')
    target.close()
  })

  it('the new phone\'s: the old phone hears STORE, not its message', async () => {
    const target = openStore()
    const r = await runTransfer(source, failing<HistorySink & { dir: string }>(target, 'commit'))
    expect(r.receiverError?.code).toBe(ErrorCode.STORE)
    expect(r.receiverError?.message).toContain(SECRET)
    expect(r.senderError?.code).toBe(ErrorCode.PEER_ERROR)
    expect(r.senderError?.details?.peerCode).toBe(ErrorCode.STORE)
    expect(r.senderError?.message).not.toContain('/data/user')
    target.close()
  })
})

describe('the other phone\'s words', () => {
  it('reach this phone\'s error printable and cut short, never as terminal escapes', async () => {
    // A liar's error frame that would redraw the terminal's last line as a fake success and hide the rest.
    const lie = `x\r\u001b[2K\u001b[1A\u001b[2Kferry: verified: 12,345 messages are on this phone\n\u001b[8m${'y'.repeat(1_000_000)}`
    const target = openStore()
    const r = await runTransfer(source, target, {
      tamper: f => f.body === 'batch' ? [{ error: { code: `STORE\u001b[8m${'z'.repeat(5_000)}`, message: lie } }] : [f]
    })
    expect(r.receiverError?.code).toBe(ErrorCode.PEER_ERROR)
    const message = r.receiverError?.message ?? ''
    expect(message).toMatch(/^sender reported STORE\\u001b\[8mz+… \(\d+ more characters\): x\\r\\u001b\[2K/)
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
    expect(message.length).toBeLessThan(1_000)
    expect(r.receiverError?.details?.peerCode).not.toMatch(/[\u0000-\u001f]/)
    // What the liar sent stays out of the store.
    expect(target.stats().messages).toBe(0)
    target.close()
  })
})
