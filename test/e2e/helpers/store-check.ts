// What the malicious-peer and disk-full tests assert about a store on disk: the media folder holds only
// complete files under their content hash (work in progress stays in media/.part/), and a sender's store
// is what it was: its export, its media files, and every row of every table of history.db. The one
// thing a sender may write is its kept leaves (the leaves table and its format), an index that lets its
// next transfer read only what changed.
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import Database from 'better-sqlite3'
import { exportStore } from './ferry-cli.js'

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex')

/** Every file under dir, recursively, as paths relative to dir (sorted). */
function files (dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(relative(dir, p))
    }
  }
  walk(dir)
  return out.sort()
}

export interface MediaAudit {
  /** Files in the content-addressed part of media/ (outside .part/ and .tmp/). */
  complete: string[]
  /** Of those, files whose bytes do not hash to their name (must be none). */
  corrupt: string[]
  /** Files in media/.part/ (resumable work in progress). */
  parts: string[]
}

export function auditMedia (store: string): MediaAudit {
  const root = join(store, 'media')
  const all = files(root)
  const inWork = (f: string): boolean => f.startsWith('.part/') || f.startsWith('.tmp/')
  const complete = all.filter(f => !inWork(f))
  const corrupt = complete.filter(f => {
    const name = f.split('/').at(-1) ?? ''
    return !/^[0-9a-f]{64}$/.test(name) || sha256(readFileSync(join(root, f))) !== name
  })
  return { complete, corrupt, parts: all.filter(f => f.startsWith('.part/')) }
}

export interface StoreFingerprint {
  /** sha256 of `ferry export`: the logical content. */
  export: string
  /** sha256 over media/ file names and contents (content-addressed part only). */
  media: string
  /** sha256 over history.db's schema and rows (but the kept leaves), and whether a -wal file is beside it. */
  db: string
  wal: boolean
}

/** Taken with no process holding the store open (a live WAL would make the db bytes meaningless). */
export async function fingerprint (store: string): Promise<StoreFingerprint> {
  const media = auditMedia(store)
  const h = createHash('sha256')
  for (const f of media.complete) h.update(f).update('\0').update(readFileSync(join(store, 'media', f)))
  const db = join(store, 'history.db')
  const fp = { db: tablesDigest(db), wal: existsSync(`${db}-wal`) && statSync(`${db}-wal`).size > 0, media: h.digest('hex') }
  // The export runs last: it opens the store itself, and must not be what changes the db bytes above.
  return { ...fp, export: sha256(await exportStore(store)) }
}

/** sha256 over the schema and every row of a database, in key order, leaving out the kept leaves. */
function tablesDigest (path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const h = createHash('sha256')
    const schema = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").raw().all() as string[][]
    for (const row of schema) h.update(JSON.stringify(row)).update('\n')
    for (const [type, name] of schema) {
      if (type !== 'table' || name === 'leaves') continue
      const rows = db.prepare(`SELECT * FROM "${name}" ORDER BY 1, 2`).raw().all() as unknown[][]
      for (const row of rows) {
        if (name === 'meta' && row[0] === 'leaf_format') continue
        h.update(name).update(JSON.stringify(row, (_k, v: unknown) => Buffer.isBuffer(v) ? v.toString('hex') : v)).update('\n')
      }
    }
    return h.digest('hex')
  } finally {
    db.close()
  }
}
