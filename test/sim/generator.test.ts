import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateHistory, hashMedia, type History } from '../../src/sim/generator.js'
import { digestPieces, mediaPieces, PIECE_BYTES } from '../../src/sim/media-bytes.js'
import { deriveKey } from '../../src/sim/prng.js'
import { PROFILES } from '../../src/sim/profiles.js'
import { HISTORY_END } from '../../src/sim/timeline.js'
import { MESSAGE_KINDS, type Message } from '../../src/store/model.js'
import { isFerryError } from '../../src/errors.js'

async function collect (pieces: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const all: Uint8Array[] = []
  for await (const p of pieces) all.push(p)
  return Buffer.concat(all)
}

async function materialise (h: History): Promise<{ ids: string[], messages: Message[] }> {
  const ids = await hashMedia(h)
  return { ids, messages: [...h.messages(ids)] }
}

/** Everything a history is, as one string: records, media specs and their sha256s. */
async function fingerprint (h: History): Promise<string> {
  const { ids, messages } = await materialise(h)
  const hash = createHash('sha256')
  for (const r of [...h.contacts, ...h.conversations, ...h.mediaRecords(ids), ...messages]) hash.update(JSON.stringify(r) + '\n')
  return hash.digest('hex')
}

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8')

/** The shape every tiny history must have, whatever its seed. */
function checkShape (h: History, ids: string[], messages: Message[]): void {
  const p = h.profile
  expect(h.contacts).toHaveLength(p.contacts)
  expect(h.conversations.filter(c => c.kind === 'direct')).toHaveLength(p.directChats)
  expect(h.conversations.filter(c => c.kind === 'group')).toHaveLength(p.groupChats)
  expect(messages).toHaveLength(p.messages)
  expect(h.messageCount).toBe(messages.length)

  const contactIds = new Set(h.contacts.map(c => c.id))
  for (const c of h.conversations) {
    expect(c.members).toContain('me')
    for (const id of c.members) if (id !== 'me') expect(contactIds.has(id)).toBe(true)
    expect(new Set(c.members).size).toBe(c.members.length)
    if (c.kind === 'direct') expect(c.members).toEqual([c.members[0], 'me'])
  }
  expect(h.contacts.some(c => c.phone !== undefined)).toBe(true)
  expect(h.contacts.some(c => c.phone === undefined)).toBe(true)

  // per conversation: unique ids, ts integers that never decrease, replies to earlier messages, members as senders
  const records = new Map(h.mediaRecords(ids).map(r => [r.sha256, r]))
  const uses = new Map<string, number>()
  for (const conv of h.conversations) {
    const mine = messages.filter(m => m.conversation === conv.id)
    expect(mine.length).toBeGreaterThan(0)
    const seen = new Set<string>()
    let prev = -Infinity
    for (const m of mine) {
      expect(seen.has(m.id)).toBe(false)
      if (m.replyTo !== undefined) expect(seen.has(m.replyTo)).toBe(true)
      seen.add(m.id)
      expect(Number.isSafeInteger(m.ts)).toBe(true)
      expect(m.ts).toBeGreaterThanOrEqual(prev)
      expect(m.ts).toBeLessThan(HISTORY_END)
      prev = m.ts
      expect(conv.members).toContain(m.sender)
      for (const v of Object.values(m)) expect(v).not.toBeUndefined()
      if (m.media !== undefined) {
        const r = records.get(m.media)
        expect(r).toBeDefined()
        uses.set(m.media, (uses.get(m.media) ?? 0) + 1)
        const expected = { image: /^image\/(jpeg|png)$/, video: /^video\/mp4$/, voice: /^audio\/ogg$/, file: /^application\//, sticker: /^image\/webp$/ }[m.kind as 'image']
        expect(r?.mime).toMatch(expected)
      }
      if (m.kind === 'voice' || m.kind === 'video') expect(m.durationMs).toBeGreaterThan(0)
      if (m.kind === 'location') expect(Number.isFinite(m.location?.lat) && Number.isFinite(m.location?.lon)).toBe(true)
      if (m.status === 'recalled') expect(m.text ?? m.media ?? m.location).toBeUndefined()
    }
    if (conv.kind === 'group') {
      // a group opens with its creator's notices, at one instant
      expect(mine[0]).toMatchObject({ kind: 'system', sender: conv.members[0] })
      expect(mine[1].ts).toBe(mine[0].ts)
    }
  }
  // every file is shown by some message, some by several (stickers, forwards)
  expect(uses.size).toBe(h.media.length)
  expect([...uses.values()].some(n => n > 1)).toBe(true)
  const images = messages.filter(m => m.kind === 'image')
  expect(new Set(images.map(m => m.media)).size).toBeLessThan(images.length)

  for (const kind of MESSAGE_KINDS) expect(messages.some(m => m.kind === kind && m.status !== 'recalled'), kind).toBe(true)
  expect(messages.some(m => m.status === 'recalled')).toBe(true)
  expect(messages.some(m => m.text === '')).toBe(true)
  expect(messages.some(m => m.text !== undefined && byteLength(m.text) > 1000)).toBe(true)
  expect(messages.some(m => m.replyTo !== undefined)).toBe(true)
  expect(messages.some(m => m.location?.label !== undefined)).toBe(true)
  expect(messages.some(m => m.location !== undefined && m.location.label === undefined)).toBe(true)

  const texts = [...messages.map(m => m.text ?? ''), ...h.contacts.map(c => c.name)].join('\n')
  expect(texts).toMatch(/\p{Script=Han}|\p{Script=Hangul}|\p{Script=Hiragana}/u) // CJK
  expect(texts).toMatch(/\p{Script=Arabic}|\p{Script=Hebrew}/u)
  expect(texts).toMatch(/\p{Extended_Pictographic}/u)
  expect([...texts].some(ch => (ch.codePointAt(0) ?? 0) > 0xffff)).toBe(true) // beyond the BMP
}

describe('generateHistory', () => {
  it('is a function of profile and seed: same seed, same records and media bytes', async () => {
    const a = await fingerprint(generateHistory('tiny', 1))
    const b = await fingerprint(generateHistory('tiny', 1))
    expect(a).toBe(b)
    expect(await fingerprint(generateHistory('tiny', 2))).not.toBe(a)
  })

  it('gives the same history on every machine (pinned fingerprint of tiny/1)', async () => {
    // Changing the generator on purpose changes this: update the pin (and SIM_VERSION if seeded stores must differ).
    expect(await fingerprint(generateHistory('tiny', 1))).toBe('92749962e82726dd8f5fcb7d3a47c3a9064e42b2ae9a96d7b63fd84d860d7102')
  })

  it('regenerates the same messages on every call', async () => {
    const h = generateHistory('tiny', 7)
    const ids = await hashMedia(h)
    expect([...h.messages(ids)]).toEqual([...h.messages(ids)])
  })

  it('has the tiny shape, with every kind and edge case, for any seed', async () => {
    for (const seed of [1, 2, 3, 42, 1234567]) {
      const h = generateHistory('tiny', seed)
      const { ids, messages } = await materialise(h)
      checkShape(h, ids, messages)
      expect(h.mediaBytes).toBeGreaterThan(1_000_000)
      expect(h.mediaBytes).toBeLessThan(2_000_000)
    }
  })

  it('lists group members in joining order, not sorted', () => {
    const groups = [1, 2, 3, 4, 5].flatMap(seed => generateHistory('small', seed).conversations.filter(c => c.kind === 'group'))
    const sorted = groups.filter(g => g.members.join() === [...g.members].sort().join())
    expect(sorted.length).toBeLessThan(groups.length / 2)
    expect(groups.some(g => g.members[0] !== 'me' && g.members.indexOf('me') > 0)).toBe(true)
  })

  it('meets the small profile exactly in counts and closely in bytes', () => {
    const h = generateHistory('small', 1)
    const fake = h.media.map((_, i) => i.toString(16).padStart(64, '0'))
    let n = 0
    for (const _ of h.messages(fake)) n++
    expect(n).toBe(20_000)
    expect(h.conversations).toHaveLength(20)
    expect(Math.abs(h.mediaBytes - PROFILES.small.mediaBytes) / PROFILES.small.mediaBytes).toBeLessThan(0.01)
  })

  it('rejects an unknown profile or a bad seed as bad input', () => {
    expect(() => generateHistory('huge' as 'tiny', 1)).toThrow(/unknown profile 'huge'/)
    for (const seed of [-1, 1.5, Number.NaN]) {
      try {
        generateHistory('tiny', seed)
        expect.unreachable()
      } catch (err) {
        expect(isFerryError(err, 'BAD_INPUT')).toBe(true)
      }
    }
  })
})

describe('simulated media bytes', () => {
  it('stream in pieces to the declared size and sha256, with the magic of their type', async () => {
    const h = generateHistory('tiny', 3)
    const ids = await hashMedia(h)
    const magic: Record<string, string> = {
      'image/jpeg': 'ffd8ff', 'image/png': '89504e47', 'image/webp': '52494646', 'video/mp4': '00000020667479706973', 'audio/ogg': '4f676753', 'application/pdf': '25504446'
    }
    for (const m of h.media) {
      let head: Uint8Array | undefined
      let size = 0
      const hash = createHash('sha256')
      for await (const piece of m.pieces()) {
        expect(piece.byteLength).toBeLessThanOrEqual(PIECE_BYTES)
        head ??= piece
        size += piece.byteLength
        hash.update(piece)
      }
      expect(size).toBe(m.size)
      expect(hash.digest('hex')).toBe(ids[m.index])
      const want = magic[m.mime] ?? '504b0304' // zip-based office files
      expect(Buffer.from(head as Uint8Array).subarray(0, want.length / 2).toString('hex')).toBe(want)
    }
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('place a trailer that straddles pieces correctly and do not depend on piecing', async () => {
    const key = deriveKey(9, 'media/test')
    const size = 2 * PIECE_BYTES + 3 // "\n%%EOF\n" straddles the last two pieces
    const sizes: number[] = []
    const all = await collect((async function * () {
      for await (const p of mediaPieces(key, 'application/pdf', size)) { sizes.push(p.byteLength); yield p }
    })())
    expect(sizes).toEqual([PIECE_BYTES, PIECE_BYTES, 3])
    expect(all.subarray(0, 8).toString('latin1')).toBe('%PDF-1.7')
    expect(all.subarray(size - 7).toString('latin1')).toBe('\n%%EOF\n')
    // the keystream beneath is one continuous chacha20 stream
    const again = await digestPieces(mediaPieces(key, 'application/pdf', size))
    expect(again).toEqual({ sha256: createHash('sha256').update(all).digest('hex'), size })
    const mp4 = await collect(mediaPieces(key, 'video/mp4', 1000))
    expect(mp4.readUInt32BE(32)).toBe(1000 - 32) // the mdat box spans the rest of the file
    expect(mp4.subarray(36, 40).toString('latin1')).toBe('mdat')
  })

  it('refuse a size too small for their header', async () => {
    await expect(digestPieces(mediaPieces(deriveKey(1, 'x'), 'image/jpeg', 10))).rejects.toThrow(/below/)
  })
})
