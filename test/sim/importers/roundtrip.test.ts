import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { flattenText, importTelegram } from '../../../src/sim/importers/telegram.js'
import { importWhatsApp, parseHeader } from '../../../src/sim/importers/whatsapp.js'
import { openExport } from '../../../src/sim/importers/detect.js'
import type { SqliteChatStore } from '../../../src/store/sqlite-store.js'
import { closeJournals, runTransfer } from '../../helpers/transfer.js'
import { cleanupTempDirs, exportText, openStore } from '../../helpers/stores.js'

// The importers end to end: what they write exports with every text intact, importing again changes
// nothing, and the engine carries an imported history to another phone unchanged.

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures')
const TELEGRAM = join(FIXTURES, 'telegram', 'result.json')
const TELEGRAM_SINGLE = join(FIXTURES, 'telegram', 'single', 'result.json')
const ANDROID = join(FIXTURES, 'whatsapp', 'android', 'WhatsApp Chat with Family.txt')
const DMY = join(FIXTURES, 'whatsapp', 'android-dmy', 'WhatsApp Chat with Dave.txt')
const IOS = join(FIXTURES, 'whatsapp', 'ios', 'WhatsApp Chat - Dave', '_chat.txt')

afterAll(async () => {
  await closeJournals()
  cleanupTempDirs()
})

async function importPath (s: SqliteChatStore, path: string, me?: string): Promise<void> {
  const o = await openExport(path)
  try {
    if (o.format === 'telegram') await importTelegram(s, o.source!, o.main!, { timeZone: 'UTC' })
    else await importWhatsApp(s, o.source!, o.main!, o.title!, { me, timeZone: 'UTC' })
  } finally {
    await o.source?.close()
  }
}

async function importAll (s: SqliteChatStore): Promise<void> {
  await importPath(s, TELEGRAM)
  await importPath(s, TELEGRAM_SINGLE)
  await importPath(s, ANDROID, 'Bob')
  await importPath(s, DMY)
  await importPath(s, IOS, 'Eve')
}

function exportedMessages (ndjson: string): Array<Record<string, unknown>> {
  return ndjson.split('\n').filter(l => l !== '').map(l => JSON.parse(l)).filter(r => r.type === 'message')
}

describe('importers end to end', () => {
  it('Telegram: every message with text exports with its full plain text, by Telegram id', async () => {
    const s = openStore()
    await importPath(s, TELEGRAM)
    const out = exportedMessages(await exportText(s))
    const source = JSON.parse(readFileSync(TELEGRAM, 'utf8')) as { chats: { list: Array<{ id: number, messages: Array<Record<string, unknown>> }> } }
    let checked = 0
    for (const chat of source.chats.list) {
      for (const m of chat.messages) {
        const text = flattenText(m.text) || flattenText(m.text_entities)
        if (text === '') continue
        const found = out.find(x => x.conversation === `tg${chat.id}` && x.id === String(m.id))
        expect(found?.text, `message ${String(m.id)}`).toBe(text)
        checked++
      }
    }
    expect(checked).toBe(11)
    s.close()
  })

  it('WhatsApp: every line a person wrote is in an exported message text', async () => {
    for (const [file, me] of [[ANDROID, 'Bob'], [DMY, undefined], [IOS, 'Eve']] as const) {
      const s = openStore()
      await importPath(s, file, me)
      const texts = exportedMessages(await exportText(s)).map(x => x.text).filter((t): t is string => typeof t === 'string')
      const markers = /^(<attached: .*>|.* \(file attached\)|<Media omitted>|(image|video|audio|sticker|GIF|document) omitted|This message was deleted\.?|You deleted this message\.?)$/
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const h = parseHeader(line)
        const body = (h === undefined ? line : h.rest.replace(/^[^:"]+: /, '')).replace(/^\u200e/, '')
        if (body === '' || markers.test(body)) continue
        expect(texts.some(t => t.includes(body)), `${file}: ${body}`).toBe(true)
      }
      s.close()
    }
  })

  it('importing the same exports again changes nothing', async () => {
    const s = openStore()
    await importAll(s)
    const once = await exportText(s)
    await importAll(s)
    expect(await exportText(s)).toBe(once)
    expect(exportedMessages(once)).toHaveLength(20 + 2 + 15 + 4 + 12)
    s.close()
  })

  it('an imported history crosses the engine and exports identically on the receiver, media included', async () => {
    const source = openStore()
    await importAll(source)
    const target = openStore()
    const r = await runTransfer(source, target)
    expect(r.receiverError).toBeUndefined()
    expect(r.senderError).toBeUndefined()
    expect(r.receiver.state).toBe('verified')
    expect(await exportText(target)).toBe(await exportText(source))
    for (const m of source.listMedia()) expect(target.hasMediaFile(m.sha256)).toBe(true)
    source.close()
    target.close()
  })

  it('a failing import leaves the store as it was (one transaction, media files removed again)', async () => {
    for (const run of [async (s: SqliteChatStore) => await importPath(s, TELEGRAM), async (s: SqliteChatStore) => await importPath(s, ANDROID)]) {
      const s = openStore()
      await importPath(s, DMY)
      const before = await exportText(s)
      // Every record is written, then copying the last media file fails: all of it is rolled back.
      const write = s.writeMedia.bind(s)
      let n = 0
      s.writeMedia = async (chunks, expect) => {
        if (++n === 4) throw new Error('disk full')
        return await write(chunks, expect)
      }
      await expect(run(s)).rejects.toThrow(/disk full/)
      expect(await exportText(s)).toBe(before)
      expect(s.stats().mediaPresent).toBe(0)
      s.close()
    }
  })

  it('a lone surrogate in Telegram text becomes U+FFFD instead of refusing the file', async () => {
    expect(flattenText(['a\ud800', { type: 'bold', text: 'b' }])).toBe('a\ufffdb')
  })
})

describe('every fixture: import -> transfer -> export', () => {
  const whatsapp = join(FIXTURES, 'whatsapp')
  const exports = [
    ...['de', 'en', 'es', 'fr', 'id', 'it', 'nl', 'pt', 'ru', 'tr'].map(l => join(whatsapp, 'locales', l)),
    join(whatsapp, 'old-ios'), join(whatsapp, 'old-ios-2013'), join(whatsapp, 'old-ios-attached'), join(whatsapp, 'android-2019'),
    join(FIXTURES, 'telegram', 'era1'), join(FIXTURES, 'telegram', 'era2'), join(FIXTURES, 'telegram', 'current')
  ]

  for (const path of exports) {
    it(`${path.slice(FIXTURES.length + 1)}: the receiver exports the same bytes, the kept fields and media included`, async () => {
      const source = openStore()
      await importPath(source, path)
      const exported = await exportText(source)
      const target = openStore()
      const r = await runTransfer(source, target)
      expect(r.receiverError).toBeUndefined()
      expect(r.receiver.state).toBe('verified')
      expect(await exportText(target)).toBe(exported)
      for (const m of source.listMedia()) expect(target.hasMediaFile(m.sha256)).toBe(true)
      // Importing the export again changes nothing: ids are stable.
      await importPath(source, path)
      expect(await exportText(source)).toBe(exported)
      source.close()
      target.close()
    })
  }

  it('the fields imports keep cross the engine (forward, bot, edit, pin, file name, links)', async () => {
    const source = openStore()
    await importPath(source, join(FIXTURES, 'telegram', 'current'))
    await importPath(source, join(FIXTURES, 'telegram', 'era2'))
    const target = openStore()
    expect((await runTransfer(source, target)).receiver.state).toBe('verified')
    const text = await exportText(target)
    for (const field of ['forwardedFrom', 'viaBot', 'editedAt', 'pinned', 'fileName', 'links']) expect(text).toContain(`"${field}":`)
    source.close()
    target.close()
  })
})
