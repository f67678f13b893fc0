import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { createHash } from 'node:crypto'
import { mediaIndexDigest } from '../../src/protocol/digest.js'
import { ManifestMedia } from '../../src/protocol/manifest-media.js'
import type { MediaEntry } from '../../src/protocol/manifest-media.js'

const hex = (n: number): string[] => Array.from({ length: n }, () => randomBytes(32).toString('hex')).sort()
const MIMES = ['image/jpeg', 'audio/ogg', 'video/mp4']

describe('ManifestMedia', () => {
  it('keeps every entry as given and finds each by hash', () => {
    const hashes = hex(5000)
    const entries: MediaEntry[] = hashes.map((sha256, i) => ({ sha256, size: i * 7919 + (i % 3 === 0 ? 2 ** 40 : 0), mime: MIMES[i % 3], missing: i % 11 === 0 }))
    const list = ManifestMedia.from(entries)
    expect(list.length).toBe(entries.length)
    expect([...list]).toEqual(entries)
    for (let i = 0; i < entries.length; i += 97) {
      expect(list.indexOf(entries[i].sha256)).toBe(i)
      expect(list.get(i)).toEqual(entries[i])
      expect([list.sha256(i), list.size(i), list.missing(i)]).toEqual([entries[i].sha256, entries[i].size, entries[i].missing])
    }
  })

  it('answers -1 for hashes it does not hold, or that are not hashes', () => {
    const [a, b, c] = hex(3)
    const list = ManifestMedia.from([a, c].map(sha256 => ({ sha256, size: 1, mime: '', missing: false })))
    expect(list.indexOf(b)).toBe(-1)
    expect(list.indexOf('0'.repeat(64))).toBe(-1)
    expect(list.indexOf('f'.repeat(64))).toBe(-1)
    expect(list.indexOf(a.toUpperCase())).toBe(-1)
    expect(list.indexOf(a.slice(1))).toBe(-1)
    expect(new ManifestMedia().indexOf(a)).toBe(-1)
    // Characters next to the digits, and past ASCII where a character's low bits are a digit's.
    for (const c of ['/', ':', '`', 'g', 'A', 'F', ' ', '\u00b0', '\u0161', '\u0130', '\u3030', '\u{1F630}']) {
      for (const at of [0, 31, 63]) {
        const bad = a.slice(0, at) + c + a.slice(at + 1)
        expect(list.indexOf(bad), JSON.stringify(bad)).toBe(-1)
        expect(() => new ManifestMedia().push({ sha256: bad, size: 1, mime: '', missing: false })).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }))
      }
    }
  })

  it('finds hashes that share their first bytes, and tells them apart', () => {
    const prefix = randomBytes(6).toString('hex')
    const hashes = [...hex(200).map(h => prefix + h.slice(prefix.length)), ...hex(200)].sort()
    const list = ManifestMedia.from(hashes.map(sha256 => ({ sha256, size: 1, mime: '', missing: false })))
    hashes.forEach((h, i) => expect(list.indexOf(h)).toBe(i))
    // One digit off, anywhere: not held.
    for (const h of hashes.slice(0, 50)) {
      const at = (h.charCodeAt(5) % 64)
      const other = h.slice(0, at) + (h[at] === '0' ? '1' : '0') + h.slice(at + 1)
      if (!hashes.includes(other)) expect(list.indexOf(other)).toBe(-1)
    }
  })

  it('refuses entries out of sha256 order, repeated, or not hashes, with MALFORMED_FRAME', () => {
    const [a, b] = hex(2)
    const entry = (sha256: string): MediaEntry => ({ sha256, size: 1, mime: '', missing: false })
    const list = ManifestMedia.from([entry(b)])
    expect(() => list.push(entry(a))).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }))
    expect(() => list.push(entry(b))).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }))
    expect(() => list.push(entry('G'.repeat(64)))).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }))
    expect(list.length).toBe(1)
    expect(() => list.get(1)).toThrow(RangeError)
  })

  it('digests its index as the documented lines, identically from the list and from records, across buffer refills', () => {
    // 5000 lines of ~80 bytes span several of the digest's 64 KiB buffers.
    const entries: MediaEntry[] = hex(5000).map((sha256, i) => ({ sha256, size: i === 7 ? 2 ** 53 - 1 : i * 104729, mime: MIMES[i % 3], missing: i % 5 === 0 }))
    const text = entries.map(m => `${m.sha256}:${m.size}:${m.missing ? 0 : 1}\n`).join('')
    const want = createHash('sha256').update(text).digest('hex')
    const digestHex = (media: Parameters<typeof mediaIndexDigest>[0]): string => Buffer.from(mediaIndexDigest(media)).toString('hex')
    expect(digestHex(ManifestMedia.from(entries))).toBe(want)
    expect(digestHex(entries)).toBe(want)
    expect(digestHex(entries.slice(1))).not.toBe(want)
    expect(digestHex([])).toBe(createHash('sha256').digest('hex'))
    // A malformed index (not 64 ASCII characters) is hashed as the same lines in UTF-8, not truncated.
    const odd = [{ sha256: 'é'.repeat(70), size: 1, mime: '', missing: false }, ...entries.slice(0, 3)]
    expect(digestHex(odd)).toBe(createHash('sha256').update(odd.map(m => `${m.sha256}:${m.size}:${m.missing ? 0 : 1}\n`).join('')).digest('hex'))
  })
})
