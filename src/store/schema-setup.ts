import type Database from 'better-sqlite3'
import type { Logger } from '@libp2p/logger'
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, FerryError } from '../errors.js'
import { MIGRATE_TO_3, SCHEMA, SCHEMA_VERSION, migrateTo4, migrateTo5 } from './schema.js'

/** Creates the schema once (concurrent creators serialize on the write lock) and returns the storeId. */
export function ensureSchema (db: Database.Database, dir: string, create: boolean, log: Logger): string {
  const read = (): Record<string, string> => {
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined
    if (!hasMeta) return {}
    return Object.fromEntries((db.prepare('SELECT key, value FROM meta').raw().all() as string[][]).map(([k, v]) => [k, v]))
  }
  let meta = read()
  if (meta.schema_version === undefined) {
    if (!create) throw new FerryError(ErrorCode.STORE, `${dir}/history.db is not a Ferry store`)
    db.transaction(() => {
      db.exec(SCHEMA)
      const put = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)')
      put.run('store_id', randomUUID())
      put.run('schema_version', String(SCHEMA_VERSION))
      put.run('created_at', new Date().toISOString())
    }).immediate()
    meta = read()
  }
  const version = Number(meta.schema_version)
  if (version > SCHEMA_VERSION) {
    // Nothing is wrong with the store: this Ferry is too old for it, as for a newer backup.
    throw new FerryError(ErrorCode.BAD_INPUT, `${dir} was written by a newer Ferry (schema ${version}; this one knows ${SCHEMA_VERSION}): update Ferry to open it`)
  }
  if (version < SCHEMA_VERSION) {
    // 1 -> 2 only added tables and a trigger; 2 -> 3 rebuilds the messages table in canonical order, once
    // (about 2 s per million messages here); 3 -> 4 adds nullable columns; 4 -> 5 moves transfer
    // bookkeeping out to the journal.
    log('upgrading %s from schema %d to %d', dir, version, SCHEMA_VERSION)
    db.transaction(() => {
      if (version < 3) db.exec(MIGRATE_TO_3)
      if (version < 4) migrateTo4(db as unknown as Parameters<typeof migrateTo4>[0])
      if (version < 5) migrateTo5(db as unknown as Parameters<typeof migrateTo5>[0])
      // 5 -> 6: SCHEMA adds the leaves table and its triggers.
      db.exec(SCHEMA)
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION))
    }).immediate()
    // Partial media files were the undone transfers' (the journal keeps its own now): a half-received
    // video must not take the phone's space for ever.
    if (version < 5) rmSync(join(dir, 'media', '.part'), { recursive: true, force: true })
  }
  return meta.store_id
}
