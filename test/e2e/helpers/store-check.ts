// What the malicious-peer and disk-full tests assert about a store on disk: the media folder holds only
// complete files under their content hash (work in progress stays in media/.part/), and a sender's store
// is byte-for-byte what it was (logical export, media files, database file).
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
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
  /** sha256 of history.db's bytes, and whether a -wal file is beside it. */
  db: string
  wal: boolean
}

/** Taken with no process holding the store open (a live WAL would make the db bytes meaningless). */
export async function fingerprint (store: string): Promise<StoreFingerprint> {
  const media = auditMedia(store)
  const h = createHash('sha256')
  for (const f of media.complete) h.update(f).update('\0').update(readFileSync(join(store, 'media', f)))
  const db = join(store, 'history.db')
  const fp = { db: sha256(readFileSync(db)), wal: existsSync(`${db}-wal`) && statSync(`${db}-wal`).size > 0, media: h.digest('hex') }
  // The export runs last: it opens the store itself, and must not be what changes the db bytes above.
  return { ...fp, export: sha256(await exportStore(store)) }
}
