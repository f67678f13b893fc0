// How message ids become IndexedDB keys.
//
// IndexedDB compares strings by UTF-16 code unit; Ferry's canonical order compares ids by code point
// (compareStrings). They disagree only where a surrogate (an astral character) meets a code unit in
// U+E000-U+FFFF: the surrogate is smaller as a code unit, larger as a code point. `orderKey` moves those
// two ranges past each other, so that code unit order of the keys is code point order of the ids.

const HIGH = /[\ud800-\uffff]/

/** A string whose code unit order is the code point order of `id` (`id` itself when it has no such unit). */
export function orderKey (id: string): string {
  if (!HIGH.test(id)) return id
  let out = ''
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i)
    // Surrogates D800-DFFF go above everything (F800-FFFF); E000-FFFF moves down (D800-F7FF).
    out += String.fromCharCode(c < 0xd800 ? c : c < 0xe000 ? c + 0x2000 : c - 0x800)
  }
  return out
}

/**
 * A 32-bit hash of a message's (conversation, id), seeded per database: the pages' index of ids holds
 * these. The seed keeps a sender from choosing ids that all land on one hash (which would turn every
 * lookup into a scan); a match is always checked against the real id.
 */
export function idHash (seed: number, conversation: string, id: string): number {
  let h = seed >>> 0
  h = mix(h, conversation)
  h = Math.imul(h ^ 0x9e3779b9, 0x85ebca6b)
  h = mix(h, id)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

function mix (h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  return (h ^ s.length) | 0
}
