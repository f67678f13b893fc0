import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openExport } from '../../../src/sim/importers/detect.js'
import { importWhatsApp } from '../../../src/sim/importers/whatsapp.js'
import { SqliteChatStore } from '../../../src/store/sqlite-store.js'
import { cleanupTempDirs, exportText, openStore, tempDir } from '../../helpers/stores.js'
import { folderEntries, writeZip } from './zip-writer.js'
import { ferry, ROOT } from '../../helpers/ferry-sync.js'

// Exports as archives, the way the phones hand them over, and archives built to hurt: `ferry import`
// reads the good ones in place with their media, and refuses the others with exit 2, writing nothing.

const FIXTURES = join(ROOT, 'test', 'fixtures')

afterAll(() => cleanupTempDirs())

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')
const mediaFiles = (store: string): string[] => existsSync(join(store, 'media'))
  ? readdirSync(join(store, 'media')).filter(d => /^[0-9a-f]{2}$/.test(d)).flatMap(d => readdirSync(join(store, 'media', d)))
  : []

describe('importing archives', () => {
  const dir = tempDir()

  it('an iOS WhatsApp .zip (_chat.txt and media at its top): titled from the archive, media stored by sha256', () => {
    const chat = join(FIXTURES, 'whatsapp', 'locales', 'it', 'WhatsApp Chat - Famiglia')
    const zip = writeZip(join(dir, 'WhatsApp Chat - Famiglia.zip'), folderEntries(chat))
    const store = join(dir, 'it')
    const r = ferry('import', zip, '--store', store, '--tz', 'Europe/Rome')
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/1 media records \(1 files copied\), 8 messages/)
    expect(r.stdout).toMatch(/format: whatsapp \(_chat\.txt in .*Famiglia\.zip\); dates read as day\/month\/year \(dots between day, month and year\); times read in Europe\/Rome/)
    expect(mediaFiles(store)).toEqual([sha(join(chat, '00000006-PHOTO-2019-06-05-13-15-02.jpg'))])
    const out = ferry('export', '--store', store).stdout
    expect(out).toMatch(/"title":"Famiglia"/)
    expect(out).toMatch(/"fileName":"00000006-PHOTO-2019-06-05-13-15-02\.jpg"/)
  })

  it('an Android WhatsApp .zip with its media; importing it twice changes nothing', () => {
    const zip = writeZip(join(dir, 'WhatsApp Chat with Family.zip'), folderEntries(join(FIXTURES, 'whatsapp', 'android')))
    const store = join(dir, 'android')
    expect(ferry('import', zip, '--store', store, '--me', 'Bob').stdout).toMatch(/4 media records \(4 files copied\), 15 messages/)
    const once = ferry('export', '--store', store).stdout
    expect(ferry('import', zip, '--store', store, '--me', 'Bob').stdout).toMatch(/^no new messages: the 15 messages of this export were already in /)
    expect(ferry('export', '--store', store).stdout).toBe(once)
  })

  it('a WhatsApp chat written in UTF-16 (as some phones do), alone or in its .zip: the same history as in UTF-8', () => {
    const android = join(FIXTURES, 'whatsapp', 'android')
    const name = 'WhatsApp Chat with Family.txt'
    const utf8 = join(dir, 'utf8')
    expect(ferry('import', join(android, name), '--store', utf8, '--me', 'Bob', '--tz', 'UTC').status).toBe(0)
    const expected = ferry('export', '--store', utf8).stdout
    const text = readFileSync(join(android, name), 'utf8')
    // Little-endian behind its byte order mark (what the phones write), and big-endian too.
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])
    const be = Buffer.from(le.subarray(2)).swap16()
    const folder = join(dir, 'utf16')
    mkdirSync(folder)
    for (const f of readdirSync(android)) if (f !== name) copyFileSync(join(android, f), join(folder, f))
    writeFileSync(join(folder, name), le)
    const store = join(dir, 'from-utf16')
    const r = ferry('import', join(folder, name), '--store', store, '--me', 'Bob', '--tz', 'UTC')
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/4 media records \(4 files copied\), 15 messages/)
    expect(ferry('export', '--store', store).stdout).toBe(expected)
    const zip = writeZip(join(dir, 'utf16be.zip'), [...folderEntries(android).filter(e => e.name !== name), { name, data: Buffer.concat([Buffer.from([0xfe, 0xff]), be]) }])
    const zipped = join(dir, 'from-utf16-zip')
    const z = ferry('import', zip, '--store', zipped, '--me', 'Bob', '--tz', 'UTC', '--title', 'Family')
    expect(z.status, z.stderr).toBe(0)
    expect(ferry('export', '--store', zipped).stdout).toBe(expected)
  })

  it('a Telegram export folder, and the same folder zipped (result.json one folder down)', () => {
    const folder = join(FIXTURES, 'telegram', 'current')
    const a = join(dir, 'tg-folder')
    expect(ferry('import', folder, '--store', a).stdout).toMatch(/1 media records \(1 files copied\), 9 messages/)
    const zip = writeZip(join(dir, 'Telegram.zip'), folderEntries(folder, 'ChatExport_2024-01-02/'))
    const b = join(dir, 'tg-zip')
    const r = ferry('import', zip, '--store', b)
    expect(r.stdout).toMatch(/format: telegram \(ChatExport_2024-01-02\/result\.json in .*Telegram\.zip\)/)
    expect(ferry('export', '--store', b).stdout).toBe(ferry('export', '--store', a).stdout)
    expect(mediaFiles(b)).toEqual([sha(join(folder, 'files', 'LICENSE.md'))])
  })

  it('entry names in UTF-8 without the UTF-8 flag (Info-ZIP, macOS) keep their letters: title and non-ASCII attachments', async () => {
    const chat = '[13/04/2023, 10:00:00] Zoë 🌸: \u200eMenü Café • 1 page \u200e<attached: 00000002-Menü Café.pdf>\n[13/04/2023, 10:01:00] Bob: ok\n'
    const zip = writeZip(join(dir, 'export.zip'), [
      { name: 'WhatsApp Chat with Zoë 🌸.txt', data: Buffer.from(chat), noUtf8Flag: true },
      { name: '00000002-Menü Café.pdf', data: Buffer.from('%PDF'), noUtf8Flag: true },
      // Bytes that are no UTF-8: CP437, as the zip format had it before UTF-8 (0x81 is ü).
      { name: 'Men\u00fc.txt', rawName: Buffer.from([0x4d, 0x65, 0x6e, 0x81, 0x2e, 0x74, 0x78, 0x74]), data: Buffer.from('x') }
    ])
    const o = await openExport(zip)
    try {
      expect(await o.source!.list()).toEqual(['00000002-Menü Café.pdf', 'Menü.txt', 'WhatsApp Chat with Zoë 🌸.txt'])
      expect(o).toMatchObject({ format: 'whatsapp', main: 'WhatsApp Chat with Zoë 🌸.txt', title: 'Zoë 🌸' })
      const s = openStore()
      expect(await importWhatsApp(s, o.source!, o.main!, o.title!)).toMatchObject({ media: 1, mediaFiles: 1, messages: 2, unmapped: {} })
      expect(s.listConversations().map(c => c.title)).toEqual(['Zoë 🌸'])
      s.close()
    } finally {
      await o.source!.close()
    }
  })

  it('a Telegram HTML export is named as such', () => {
    const zip = writeZip(join(dir, 'html.zip'), [{ name: 'ChatExport/messages.html', data: Buffer.from('<html></html>') }])
    const r = ferry('import', zip, '--store', join(dir, 'html'))
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/Telegram export in HTML: .*Machine-readable JSON/)
  })
})

describe('refusing archives built to hurt, writing nothing', () => {
  const dir = tempDir()
  const chat = Buffer.from('31/12/23, 21:05 - Ann: IMG-20231231-WA0001.jpg (file attached)\n31/12/23, 21:06 - Ann: hi\n')
  const photo = Buffer.from('a photo')
  /** A store that already holds a chat: a refused import must leave it byte for byte as it was. */
  const filled = (): { store: string, before: string } => {
    const store = join(dir, `s${Math.random().toString(16).slice(2)}`)
    expect(ferry('import', join(FIXTURES, 'whatsapp', 'android-dmy', 'WhatsApp Chat with Dave.txt'), '--store', store).status).toBe(0)
    return { store, before: ferry('export', '--store', store).stdout }
  }
  const refused: Array<[string, Parameters<typeof writeZip>[1], RegExp]> = [
    ['an entry whose path leaves the archive (zip-slip)', [{ name: '_chat.txt', data: chat }, { name: '../../IMG-20231231-WA0001.jpg', data: photo }], /path leaves the archive.*refused/],
    ['a UTF-8 entry name without the UTF-8 flag whose path leaves the archive', [{ name: '_chat.txt', data: chat }, { name: '../Zoë/IMG-20231231-WA0001.jpg', data: photo, noUtf8Flag: true }], /path leaves the archive.*refused/],
    ['an entry that expands a thousandfold (zip bomb)', [{ name: '_chat.txt', data: chat }, { name: 'IMG-20231231-WA0001.jpg', data: Buffer.alloc(8 << 20) }], /would expand from \d+ to 8388608 bytes: refused as a zip bomb/],
    ['entries sharing their data (overlapping zip bomb)', [{ name: '_chat.txt', data: chat }, { name: 'IMG-20231231-WA0001.jpg', data: photo }, { name: 'copy.jpg', data: photo, sharesWith: 'IMG-20231231-WA0001.jpg' }], /overlap: refused as a zip bomb/],
    ['a media entry longer than it declares', [{ name: '_chat.txt', data: chat }, { name: 'IMG-20231231-WA0001.jpg', data: photo, declaredSize: 3 }], /IMG-20231231-WA0001\.jpg is damaged: too many bytes/],
    ['a stored media entry damaged after it was archived (its CRC-32 fails)', [{ name: '_chat.txt', data: chat }, { name: 'IMG-20231231-WA0001.jpg', data: photo, method: 'store', damaged: true }], /IMG-20231231-WA0001\.jpg is damaged: its bytes do not match the archive's checksum for it .*nothing was imported/],
    ['a stored chat damaged after it was archived', [{ name: '_chat.txt', data: chat, method: 'store', damaged: true }], /_chat\.txt is damaged: its bytes do not match the archive's checksum/],
    ['an encrypted chat', [{ name: '_chat.txt', data: chat, encrypted: true }], /_chat\.txt is encrypted/]
  ]
  for (const [what, entries, reason] of refused) {
    it(`${what}: exit 2 with the reason; no store created, an existing one unchanged`, () => {
      const zip = writeZip(join(dir, 'WhatsApp Chat with Ann.zip'), entries)
      const fresh = join(dir, 'fresh')
      const r = ferry('import', zip, '--store', fresh)
      expect(r.status).toBe(2)
      expect(r.stderr).toMatch(reason)
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(existsSync(fresh)).toBe(false)
      const { store, before } = filled()
      expect(ferry('import', zip, '--store', store).status).toBe(2)
      expect(ferry('export', '--store', store).stdout).toBe(before)
      expect(mediaFiles(store)).toEqual([])
    })
  }

  it('an archive cut off (a download that did not finish) says so in plain words: exit 2, no store', () => {
    const zip = writeZip(join(dir, 'WhatsApp Chat with Family.zip'), folderEntries(join(FIXTURES, 'whatsapp', 'android')))
    const cut = join(dir, 'cut.zip')
    const bytes = readFileSync(zip)
    writeFileSync(cut, bytes.subarray(0, bytes.byteLength - 30))
    const fresh = join(dir, 'from-cut')
    const r = ferry('import', cut, '--store', fresh)
    expect(r.stderr).toBe(`ferry: ${cut} is not a readable zip archive: it has no end (its index of entries is missing): it was cut off, ` +
      'as by a download or copy that did not finish, or is no zip at all [BAD_INPUT]\n')
    expect(r.status).toBe(2)
    expect(existsSync(fresh)).toBe(false)
  })

  it('a store write failing after some media went in: records rolled back, those media files removed', async () => {
    const zip = writeZip(join(dir, 'WhatsApp Chat with Family.zip'), folderEntries(join(FIXTURES, 'whatsapp', 'android')))
    const storeDir = tempDir()
    const s = openStore(storeDir)
    const before = await exportText(s)
    const write = s.writeMedia.bind(s)
    let n = 0
    s.writeMedia = async (chunks, expect) => {
      if (++n === 3) throw new Error('disk full')
      return await write(chunks, expect)
    }
    const o = await openExport(zip)
    await expect(importWhatsApp(s, o.source!, o.main!, o.title!)).rejects.toThrow(/disk full/)
    await o.source!.close()
    expect(n).toBe(3)
    expect(await exportText(s)).toBe(before)
    s.close()
    expect(mediaFiles(storeDir)).toEqual([])
    const reopened = SqliteChatStore.open(storeDir)
    expect(reopened.stats()).toMatchObject({ messages: 0, media: 0 })
    reopened.close()
  })
})
