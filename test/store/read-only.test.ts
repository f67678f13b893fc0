import Database from 'better-sqlite3'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, tempDir } from '../helpers/stores.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { HOLDER_FILE } from '../../src/store/store-lock.js'
import { SCHEMA_VERSION } from '../../src/store/schema.js'
import { isFerryError } from '../../src/errors.js'

// A read-only store (inspect, export, backup) shares the store with the process writing it: it takes no
// lock, creates and writes nothing, and reads one snapshot, as of its open, for its whole life.

afterAll(() => cleanupTempDirs())

async function storeWith (messages: number): Promise<string> {
  const dir = join(tempDir(), 'store')
  const s = SqliteChatStore.open(dir, { create: true })
  await fillStore(s, { conversations: 1, messagesPerConversation: messages, mediaSizes: [10] })
  s.close()
  return dir
}

describe('a read-only store', () => {
  it('reads one snapshot while a writer commits, and a fresh one when opened again', async () => {
    const dir = await storeWith(10)
    const writer = SqliteChatStore.open(dir)
    const reader = SqliteChatStore.open(dir, { readOnly: true })
    try {
      expect(reader.stats().messages).toBe(10)
      writer.putMessages([{ conversation: 'c0', id: 'late', sender: 'u1', ts: 1, kind: 'text', text: 'after the reader opened' }])
      expect(writer.stats().messages).toBe(11)
      expect(reader.stats().messages).toBe(10)
      expect([...reader.listMessages()].length).toBe(10)
      const again = SqliteChatStore.open(dir, { readOnly: true })
      expect(again.stats().messages).toBe(11)
      again.close()
    } finally {
      reader.close()
      writer.close()
    }
  })

  it('sends (a backup of) the history as it read it at open: its snapshot for a session is its own', async () => {
    const dir = await storeWith(10)
    const writer = SqliteChatStore.open(dir)
    const reader = SqliteChatStore.open(dir, { readOnly: true })
    try {
      writer.putMessages([{ conversation: 'c0', id: 'late', sender: 'u1', ts: 1, kind: 'text', text: 'after the reader opened' }])
      const session = await reader.snapshot()
      expect((await session.conversations()).map(c => c.messages)).toEqual([10])
      expect((await session.messages('c0', undefined, 100)).map(m => m.id)).not.toContain('late')
      await session.release()
      // Released, the store still reads as it did.
      expect(reader.stats().messages).toBe(10)
    } finally {
      reader.close()
      writer.close()
    }
  })

  it('takes no lock and creates nothing: no holder file, no media work folders, no store where there was none', async () => {
    const dir = await storeWith(3)
    rmSync(join(dir, 'media', '.tmp'), { recursive: true })
    const before = readdirSync(dir).sort()
    const reader = SqliteChatStore.open(dir, { readOnly: true })
    try {
      expect(existsSync(join(dir, HOLDER_FILE))).toBe(false)
      expect(existsSync(join(dir, 'media', '.tmp'))).toBe(false)
      // A writer may start meanwhile.
      const writer = SqliteChatStore.open(dir)
      writer.close()
    } finally {
      reader.close()
    }
    expect(readdirSync(dir).filter(f => !f.startsWith('history.db-')).sort()).toEqual(before)

    const missing = join(tempDir(), 'none')
    let err: unknown
    try { SqliteChatStore.open(missing, { readOnly: true, create: true }).close() } catch (e) { err = e }
    expect(isFerryError(err, 'BAD_INPUT'), String(err)).toBe(true)
    expect(existsSync(missing)).toBe(false)
  })

  it('opens a store an older Ferry wrote, upgrading it first through a writer\'s open', async () => {
    const dir = await storeWith(4)
    const raw = new Database(join(dir, 'history.db'))
    raw.exec("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    raw.close()
    const reader = SqliteChatStore.open(dir, { readOnly: true })
    try {
      expect(reader.stats().messages).toBe(4)
    } finally {
      reader.close()
    }
    const check = new Database(join(dir, 'history.db'), { readonly: true })
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION))
    check.close()
  })

  it('refuses to write', async () => {
    const dir = await storeWith(1)
    const reader = SqliteChatStore.open(dir, { readOnly: true })
    try {
      expect(() => reader.putMessages([{ conversation: 'c0', id: 'x', sender: 'u1', ts: 1, kind: 'text', text: 'no' }])).toThrow(/readonly/)
    } finally {
      reader.close()
    }
  })
})
