import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { importNdjson } from '../../src/sim/import.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, exportText, openStore, tempDir } from '../helpers/stores.js'

afterEach(() => cleanupTempDirs())

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex')
const PHOTO = Buffer.from('pretend these are the bytes of a photo')
const PHOTO_SHA = sha(PHOTO)
const OTHER = Buffer.from('another file, valid, listed before the bad line')

const contact = (id: string, name = id): string => JSON.stringify({ type: 'contact', id, name })
const conversation = (id: string, members = ['u1', 'me']): string => JSON.stringify({ type: 'conversation', id, kind: 'direct', title: id, members })
const message = (conv: string, id: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ type: 'message', conversation: conv, id, sender: 'u1', ts: 1_700_000_000_000, kind: 'text', text: id, ...extra })
const mediaLine = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ type: 'media', sha256: PHOTO_SHA, size: PHOTO.byteLength, mime: 'image/jpeg', path: 'files/photo.jpg', ...extra })

/** Writes an NDJSON file (and the photo it may refer to) into a fresh directory. */
function ndjson (lines: string[], photo: Buffer = PHOTO): string {
  const dir = tempDir()
  mkdirSync(join(dir, 'files'))
  writeFileSync(join(dir, 'files', 'photo.jpg'), photo)
  writeFileSync(join(dir, 'files', 'other.bin'), OTHER)
  const file = join(dir, 'history.ndjson')
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}

/** A store that already holds a chat, so "unchanged" is checked against real content. */
async function existingStore (): Promise<SqliteChatStore> {
  const s = openStore()
  await importNdjson(s, ndjson([contact('z'), conversation('zz', ['z', 'me']), message('zz', 'old')]))
  return s
}

function mediaFiles (s: SqliteChatStore): string[] {
  return readdirSync(join(s.dir, 'media'), { recursive: true }).map(String).filter(p => !p.startsWith('.')).sort()
}

describe('import', () => {
  it('imports records in any order: a message may come before its conversation and its media', async () => {
    const s = openStore()
    const r = await importNdjson(s, ndjson([
      message('c1', 'm1', { kind: 'image', media: PHOTO_SHA }),
      contact('u1'),
      mediaLine(),
      conversation('c1')
    ]))
    expect(r).toEqual({ contacts: 1, conversations: 1, media: 1, mediaFiles: 1, mediaFilesDamaged: 0, messages: 1, messagesMadeMine: 0, messagesEdited: 0, messagesRecalled: 0, lines: 4 })
    expect(s.hasMediaFile(PHOTO_SHA)).toBe(true)
    expect([...s.listMessages()]).toEqual([{ conversation: 'c1', id: 'm1', sender: 'u1', ts: 1_700_000_000_000, kind: 'image', text: 'm1', media: PHOTO_SHA }])
    s.close()
  })

  it('resolves references against what the store already holds', async () => {
    const s = await existingStore()
    await importNdjson(s, ndjson([message('zz', 'new')]))
    expect([...s.listMessages()].map(m => m.id)).toEqual(['new', 'old'])
    s.close()
  })

  it('merges idempotently: the same file twice changes nothing, and later lines win', async () => {
    const s = await existingStore()
    const file = ndjson([conversation('c1'), message('c1', 'm1'), message('c1', 'm1', { text: 'second' }), mediaLine()])
    await importNdjson(s, file)
    const once = await exportText(s)
    expect(once).toContain('"text":"second"')
    const again = await importNdjson(s, file)
    expect(again.mediaFiles).toBe(0) // already held
    expect(await exportText(s)).toBe(once)
    s.close()
  })

  it('an older export imported after a newer one undoes nothing: edits, recalls and members stay', async () => {
    const s = openStore()
    const group = (members: string[]): string => JSON.stringify({ type: 'conversation', id: 'g', kind: 'group', title: 'Trip', members })
    const newer = ndjson([
      group(['me', 'u1', 'u2', 'u3']),
      message('g', 'm1', { text: 'see you at 8', editedAt: 1_700_000_060_000 }),
      message('g', 'm2', { status: 'recalled', text: undefined }),
      message('g', 'm3', { text: 'ok' })
    ])
    const older = ndjson([
      group(['me', 'u1', 'u2']),
      message('g', 'm1', { text: 'see you at 7' }),
      message('g', 'm2', { text: 'something I took back' }),
      message('g', 'm3', { text: 'ok' })
    ])
    await importNdjson(s, newer)
    const after = await exportText(s)
    await importNdjson(s, older)
    expect(await exportText(s)).toBe(after)
    expect(s.listConversations()[0].members).toEqual(['me', 'u1', 'u2', 'u3'])
    expect([...s.listMessages()].map(m => [m.id, m.text, m.editedAt, m.status])).toEqual([
      ['m1', 'see you at 8', 1_700_000_060_000, undefined],
      ['m2', undefined, undefined, 'recalled'],
      ['m3', 'ok', undefined, undefined]
    ])
    s.close()
  })

  it('an older export undoes no name: an edit is enough to tell the newer, and a number it lacks stays', async () => {
    const s = openStore()
    const lines = (title: string, person: Record<string, unknown>, edit: Record<string, unknown>): string => ndjson([
      JSON.stringify({ type: 'contact', id: 'u1', ...person }),
      JSON.stringify({ type: 'conversation', id: 'g', kind: 'group', title, members: ['me', 'u1'] }),
      message('g', 'm1', { text: 'see you at 7', ...edit })
    ])
    // The same messages; the newer export was made after an edit, a rename and a new number.
    const newer = (): string => lines('Trip 2024', { name: 'Ann Lee', phone: '+1 555 0100' }, { text: 'see you at 8', editedAt: 1_700_000_060_000 })
    const older = (): string => lines('Trip', { name: 'Ann' }, {})
    await importNdjson(s, newer())
    await importNdjson(s, older())
    expect(s.listConversations().map(c => c.title)).toEqual(['Trip 2024'])
    expect(s.listContacts()).toEqual([{ id: 'u1', name: 'Ann Lee', phone: '+1 555 0100' }])
    // The other way round, the newer export's names land.
    const t = openStore()
    await importNdjson(t, older())
    await importNdjson(t, newer())
    expect(t.listConversations().map(c => c.title)).toEqual(['Trip 2024'])
    expect(t.listContacts()).toEqual([{ id: 'u1', name: 'Ann Lee', phone: '+1 555 0100' }])
    s.close()
    t.close()
  })

  it('a newer export imported after an older one brings its edits, recalls and new members', async () => {
    const s = openStore()
    const group = (members: string[]): string => JSON.stringify({ type: 'conversation', id: 'g', kind: 'group', title: 'Trip', members })
    await importNdjson(s, ndjson([group(['me', 'u1']), message('g', 'm1', { text: 'see you at 7' }), message('g', 'm2', { text: 'oops' })]))
    await importNdjson(s, ndjson([group(['u2', 'me']), message('g', 'm1', { text: 'see you at 8', editedAt: 1_700_000_060_000 }), message('g', 'm2', { status: 'recalled', text: undefined })]))
    expect(s.listConversations()[0].members).toEqual(['u2', 'me', 'u1'])
    expect([...s.listMessages()].map(m => [m.id, m.text, m.status])).toEqual([['m1', 'see you at 8', undefined], ['m2', undefined, 'recalled']])
    s.close()
  })

  it('stores a media record without a path as metadata only', async () => {
    const s = openStore()
    await importNdjson(s, ndjson([JSON.stringify({ type: 'media', sha256: 'e'.repeat(64), size: 5, mime: 'video/mp4' })]), { allowNoMessages: true })
    expect([...s.listMedia()]).toEqual([{ sha256: 'e'.repeat(64), size: 5, mime: 'video/mp4' }])
    expect(s.stats()).toMatchObject({ mediaMissing: 1, mediaBytesMissing: 5 })
    s.close()
  })

  it('reads a stream, with media paths relative to baseDir, skipping blank lines', async () => {
    const s = openStore()
    const dir = join(ndjson([]), '..')
    const text = [conversation('c1'), '', '   ', mediaLine(), message('c1', 'm1')].join('\r\n')
    const r = await importNdjson(s, Readable.from([Buffer.from(text)]), { baseDir: dir })
    expect(r).toMatchObject({ conversations: 1, media: 1, mediaFiles: 1, messages: 1, lines: 5 })
    s.close()
  })
})

describe('a refused import', () => {
  // Each case: the file's lines, the line number reported, and the reason.
  const cases: Array<[string, string[], number, RegExp]> = [
    ['invalid JSON', [conversation('c1'), message('c1', 'm1'), '{"type":"message",'], 3, /invalid JSON/],
    ['an unknown type', [conversation('c1'), '{"type":"reaction","id":"x"}'], 2, /unknown type "reaction"/],
    ['an unknown kind', [conversation('c1'), message('c1', 'm1', { kind: 'gif' })], 2, /"kind" must be one of/],
    ['an unknown status', [conversation('c1'), message('c1', 'm1', { status: 'seen' })], 2, /"status" must be one of/],
    ['a missing field', ['{"type":"contact","id":"u1"}'], 1, /missing "name"/],
    ['a wrongly typed field', [conversation('c1'), message('c1', 'm1', { text: 42 })], 2, /"text" must be a string/],
    ['a non-integer ts', [conversation('c1'), message('c1', 'm1', { ts: 1.5 })], 2, /"ts" must be an integer/],
    ['a bad sha256', [mediaLine({ sha256: 'XYZ' })], 1, /sha256/],
    ['an unknown field', [contact('u1'), JSON.stringify({ type: 'contact', id: 'u2', name: 'B', nick: 'b' })], 2, /unknown field "nick"/],
    ['a message whose conversation is missing', [conversation('c1'), message('c1', 'm1'), message('c2', 'm2'), message('c2', 'm3')], 3, /conversation "c2" is neither in the file nor in the store/],
    ['a message whose media is missing', [conversation('c1'), message('c1', 'm1', { media: 'd'.repeat(64) })], 2, /media "d{64}" is neither/],
    ['the earliest of several dangling references', [message('c9', 'm1'), message('c1', 'm2', { media: 'd'.repeat(64) }), conversation('c1')], 1, /conversation "c9"/],
    ['one sha256 with two sizes', [mediaLine(), mediaLine({ size: 1, path: undefined })], 2, /has size 1, but line 3 says 38/],
    ['a missing media file', [mediaLine({ path: 'files/nope.jpg' })], 1, /cannot read media file .*nope\.jpg: .*nope\.jpg does not exist/]
  ]

  for (const [name, lines, line, reason] of cases) {
    it(`reports ${name} with its line number and leaves the store unchanged`, async () => {
      const s = await existingStore()
      const before = await exportText(s)
      const filesBefore = mediaFiles(s)
      // Valid records before the bad line must not survive either, nor the media file they brought.
      const other = mediaLine({ sha256: sha(OTHER), size: OTHER.byteLength, path: 'files/other.bin' })
      const file = ndjson([contact('u1', 'changed'), other, ...lines])
      const offset = 2
      const err = await importNdjson(s, file).catch(e => e)
      expect(err).toMatchObject({ code: 'BAD_INPUT' })
      expect(err.message).toMatch(new RegExp(`^line ${line + offset}: `))
      expect(err.message).toMatch(reason)
      expect(await exportText(s)).toBe(before)
      expect(mediaFiles(s)).toEqual(filesBefore)
      expect(s.hasMediaFile(sha(OTHER))).toBe(false)
      s.close()
    })
  }

  it('reports an unreadable input file as bad input', async () => {
    const s = openStore()
    await expect(importNdjson(s, join(tempDir(), 'missing.ndjson'))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/cannot read .*missing\.ndjson/) })
    s.close()
  })
})

describe('an import naming a damaged media file', () => {
  // Damaged since the export (or by another tool): one bad photo must not keep the history out.
  const cases: Array<[string, Buffer, Record<string, unknown>]> = [
    ['cut short', PHOTO.subarray(0, 10), {}],
    ['of the wrong size', PHOTO, { size: PHOTO.byteLength + 1 }],
    ['with the wrong bytes', Buffer.from(PHOTO.toString().replace('photo', 'PHOTO')), {}]
  ]
  for (const [name, bytes, record] of cases) {
    it(`imports everything else, the message of a file ${name} kept with its media shown as missing`, async () => {
      const s = await existingStore()
      const other = mediaLine({ sha256: sha(OTHER), size: OTHER.byteLength, path: 'files/other.bin' })
      const photoSha = (record.sha256 as string | undefined) ?? PHOTO_SHA
      const file = ndjson([mediaLine(record), other, conversation('c1'), message('c1', 'm1', { kind: 'image', media: photoSha }),
        message('c1', 'm2', { media: sha(OTHER), kind: 'file' })], bytes)
      const r = await importNdjson(s, file)
      expect(r).toMatchObject({ media: 2, mediaFiles: 1, mediaFilesDamaged: 1, messages: 2 })
      expect(s.hasMediaFile(sha(OTHER))).toBe(true)
      expect(s.hasMediaFile(photoSha)).toBe(false)
      expect(s.hasMediaRecord(photoSha)).toBe(true)
      expect((await s.findMessages('c1', ['m1']))[0]).toMatchObject({ media: photoSha })
      expect(s.stats()).toMatchObject({ mediaMissing: 1 })
      s.close()
    })
  }

  it('takes a good copy named on another line, and says nothing of the damaged one', async () => {
    const s = openStore()
    const file = ndjson([mediaLine({ path: 'files/other.bin' }), mediaLine(), conversation('c1'), message('c1', 'm1', { kind: 'image', media: PHOTO_SHA })])
    await expect(importNdjson(s, file)).resolves.toMatchObject({ mediaFiles: 1, mediaFilesDamaged: 0 })
    expect(s.hasMediaFile(PHOTO_SHA)).toBe(true)
    s.close()
  })

  it('counts nothing left out when the store already holds the file', async () => {
    const s = openStore()
    await importNdjson(s, ndjson([mediaLine(), conversation('c1'), message('c1', 'm1', { kind: 'image', media: PHOTO_SHA })]))
    const again = ndjson([mediaLine(), conversation('c1'), message('c1', 'm1', { kind: 'image', media: PHOTO_SHA })], Buffer.from('tampered'))
    await expect(importNdjson(s, again)).resolves.toMatchObject({ mediaFiles: 0, mediaFilesDamaged: 0 })
    expect(s.hasMediaFile(PHOTO_SHA)).toBe(true)
    s.close()
  })
})

describe('a large import', () => {
  it('streams many messages through batches in one transaction', async () => {
    const s = openStore()
    const lines = [conversation('c1')]
    for (let i = 0; i < 20_000; i++) lines.push(message('c1', `m${String(i).padStart(5, '0')}`, { ts: i }))
    lines.push(message('nope', 'last'))
    await expect(importNdjson(s, ndjson(lines))).rejects.toThrow(/^line 20002: conversation "nope"/)
    expect(s.stats().messages).toBe(0)
    lines.pop()
    expect((await importNdjson(s, ndjson(lines))).messages).toBe(20_000)
    expect(s.stats().messages).toBe(20_000)
    s.close()
  })
})
