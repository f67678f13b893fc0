import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { mediaInverse, packMedia, readMedia } from '../../src/journal/media-log.js'

// The undo entry of a transfer's media records, and the change that takes several of them back.

const sha = (n: number): string => createHash('sha256').update(`file ${n}`).digest('hex')

describe('a media undo entry', () => {
  it('reads back what was packed: added records by sha256, replaced ones whole', () => {
    const p = { added: [sha(1), sha(2), sha(3)], replaced: [{ sha256: sha(4), size: 12, mime: 'image/heic' }] }
    expect(readMedia(packMedia(p))).toEqual(p)
    expect(readMedia(packMedia({ added: [], replaced: [] }))).toEqual({ added: [], replaced: [] })
    // 32 bytes a record added, as a new phone's manifest adds them all.
    expect(packMedia({ added: Array.from({ length: 1000 }, (_, i) => sha(i)), replaced: [] }).byteLength).toBe(5 + 32_000)
  })

  it('refuses to pack an added record whose sha256 is not 64 lowercase hex digits', () => {
    for (const bad of [sha(1).toUpperCase(), sha(1).slice(2), `${sha(1).slice(0, 63)}g`]) {
      expect(() => packMedia({ added: [sha(2), bad], replaced: [] })).toThrow(RangeError)
    }
  })

  it('damaged or of an unknown format is a typed error', () => {
    const good = packMedia({ added: [sha(1), sha(2)], replaced: [{ sha256: sha(4), size: 12, mime: 'image/heic' }] })
    for (const bad of [good.subarray(0, 40), new Uint8Array([9, ...good.subarray(1)]), good.subarray(0, 3), new Uint8Array([...good.subarray(0, 69), 0x7b])]) {
      expect(() => readMedia(bad)).toThrow(expect.objectContaining({ code: 'STORE', message: expect.stringContaining('damaged') }))
    }
  })

  it('taken back together, newest first: what the oldest entry naming a record says the store held is what comes back', () => {
    // An earlier session added a, replaced b; a later one replaced a (as the earlier one wrote it) and
    // c, and added d.
    const older = { added: [sha(1)], replaced: [{ sha256: sha(2), size: 2, mime: 'image/png' }] }
    const newer = { added: [sha(4)], replaced: [{ sha256: sha(1), size: 1, mime: 'image/jpeg' }, { sha256: sha(3), size: 3, mime: 'audio/ogg' }] }
    const change = mediaInverse([newer, older])
    expect(change?.remove?.media?.sort()).toEqual([sha(1), sha(4)].sort())
    expect(change?.media).toEqual(expect.arrayContaining([{ sha256: sha(2), size: 2, mime: 'image/png' }, { sha256: sha(3), size: 3, mime: 'audio/ogg' }]))
    expect(change?.media).toHaveLength(2)
    expect(mediaInverse([])).toBeUndefined()
  })
})
