import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { TransferLog } from '../../src/journal/transfer-log.js'
import { ManifestMedia } from '../../src/protocol/manifest-media.js'
import { storeMediaRecords } from '../../src/protocol/media-records.js'
import type { HistoryChange } from '../../src/store/history.js'
import type { MediaRecord } from '../../src/store/model.js'
import { cleanupTempDirs, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf } from '../helpers/transfer.js'

// A manifest's media records go into the store logged, so that an undo takes back exactly the records
// the transfer added or changed, and nothing this phone held as it was. Checked against a store holding
// more records than one read returns, most of them outside the manifest.

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const record = (n: number, mime = 'image/jpeg'): MediaRecord =>
  ({ sha256: createHash('sha256').update(`file ${n}`).digest('hex'), size: 1000 + n, mime })
const bySha = (a: MediaRecord, b: MediaRecord): number => a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0
const TID = new Uint8Array(16).fill(7)

describe('a manifest\'s media records', () => {
  it('are written and logged only where the store held none or another version, and an undo puts back exactly what was there', async () => {
    const store = openStore()
    // 10,000 records on this phone; the manifest names 3,000 of them as they are, 700 with another
    // size or type, and 2,500 it does not hold, all interleaved in sha256 order.
    const held = Array.from({ length: 10_000 }, (_, n) => record(n))
    store.putMetadata([], [], held)
    const same = held.filter((_, n) => n % 3 === 0)
    const changed = held.filter((_, n) => n % 3 === 1).filter((_, i) => i % 4 === 0).slice(0, 700).map((r, i) => i % 2 === 0 ? { ...r, mime: 'image/heic' } : { ...r, size: r.size + 1 })
    const added = Array.from({ length: 2500 }, (_, n) => record(20_000 + n, 'video/mp4'))
    const manifest = [...same, ...changed, ...added].sort(bySha)
    const before = [...store.listMedia()]

    const writes: HistoryChange[] = []
    const sink = new Proxy(store, {
      get: (t, p) => {
        if (p === 'commit') return async (c: HistoryChange) => { writes.push(c); await t.commit(c) }
        const v = Reflect.get(t, p, t) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
      }
    })
    const log = new TransferLog(journalOf(store))
    const rec = await log.open(TID, 'src', {}, store)
    await storeMediaRecords(sink, log, rec, ManifestMedia.from(manifest.map(m => ({ ...m, missing: false }))))
    const written = writes.flatMap(w => w.media ?? [])
    expect(written.sort(bySha)).toEqual([...changed, ...added].sort(bySha))
    expect([...store.listMedia()]).toEqual([...new Map([...held, ...changed, ...added].map(r => [r.sha256, r])).values()].sort(bySha))

    await log.undo(rec, store)
    expect([...store.listMedia()]).toEqual(before)
    store.close()
  })

  it('into a store that holds none are all added, with no read of the store\'s records past the first', async () => {
    const store = openStore()
    const manifest = Array.from({ length: 5000 }, (_, n) => record(n)).sort(bySha)
    let reads = 0
    const sink = new Proxy(store, {
      get: (t, p) => {
        if (p === 'media') return async (after: string | undefined, limit: number) => { reads++; return await t.media(after, limit) }
        const v = Reflect.get(t, p, t) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
      }
    })
    const log = new TransferLog(journalOf(store))
    const rec = await log.open(TID, 'src', {}, store)
    await storeMediaRecords(sink, log, rec, ManifestMedia.from(manifest.map(m => ({ ...m, missing: false }))))
    expect(reads).toBe(1)
    expect([...store.listMedia()]).toEqual(manifest)
    await log.undo(rec, store)
    expect([...store.listMedia()]).toEqual([])
    store.close()
  })
})
