import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openExport } from '../../../src/sim/importers/detect.js'
import { mapTelegram } from '../../../src/sim/importers/telegram.js'
import type { MappedHistory } from '../../../src/sim/importers/common.js'

// The three eras of Telegram Desktop's JSON, as written by hand after their shapes: numeric ids and
// wall-clock dates (before 2020), string ids still without date_unixtime (2020-2021), and the current
// one with what a person would miss if it were dropped (forwards, edits, bots, pins, link targets, file names).

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'telegram')
const ROME = 'Europe/Rome'

async function load (era: string, timeZone = ROME): Promise<MappedHistory> {
  const o = await openExport(join(DIR, era))
  expect(o.format).toBe('telegram')
  return await mapTelegram(JSON.parse(await o.source!.readText(o.main!, 1 << 20)), o.source!, o.main!, { timeZone })
}
const byId = (h: MappedHistory, id: string): Record<string, unknown> => h.messages.find(m => m.id === id) as unknown as Record<string, unknown>

describe('Telegram exports before 2020 (numeric ids, no date_unixtime, no text_entities)', async () => {
  const h = await load('era1')

  it('numeric from_id and actor_id are the same people as the contact list and the exporter', () => {
    expect(h.conversations).toEqual([{ id: 'tg2000', kind: 'direct', title: 'Alice Liddell', members: ['user2000', 'me'] }])
    expect(h.messages.map(m => m.sender)).toEqual(['user2000', 'me', 'user2000', 'me', 'user2000'])
  })

  it('dates are the wall clock of the given zone (summer time in June)', async () => {
    expect(byId(h, '1').ts).toBe(Date.UTC(2019, 5, 5, 11, 14, 15))
    expect(byId((await load('era1', 'America/New_York')), '1').ts).toBe(Date.UTC(2019, 5, 5, 17, 14, 15))
  })

  it('keeps link targets and edit time; the epoch as an edit date means never edited', () => {
    expect(byId(h, '2')).toMatchObject({ text: 'Read this and smile', replyTo: '1', editedAt: Date.UTC(2019, 5, 5, 11, 16), links: [{ text: 'this', url: 'https://example.org/article' }] })
    expect(byId(h, '1').editedAt).toBeUndefined()
  })

  it('a photo keeps its file name and bytes; a message without id gets a stable one and is counted', () => {
    const photo = readFileSync(join(DIR, 'era1', 'photos', 'photo_1@05-06-2019_13-14-15.jpg'))
    expect(byId(h, '3')).toMatchObject({ kind: 'image', text: 'us', fileName: 'photo_1@05-06-2019_13-14-15.jpg', media: createHash('sha256').update(photo).digest('hex') })
    expect(h.messages[4]).toMatchObject({ id: expect.stringMatching(/^x[0-9a-f]{16}$/), text: 'a message the export gave no id' })
    expect(h.unmapped).toEqual({ 'text formatting (bold, italic...) dropped': 1, 'message without an id (an id was made from its content)': 1 })
  })
})

describe('Telegram exports of 2020-2021 (string ids, no date_unixtime)', async () => {
  const h = await load('era2')

  it('keeps the forward origin (empty when hidden), the bot, the edit time and the pinned target', () => {
    expect(byId(h, '11')).toMatchObject({ forwardedFrom: 'Literary Digest', text: 'Chapter one is out' })
    expect(byId(h, '12')).toMatchObject({ kind: 'video', viaBot: '@gif', editedAt: Date.UTC(2021, 2, 1, 8, 5) })
    expect(byId(h, '13')).toMatchObject({ forwardedFrom: '', text: 'forwarded from a hidden account' })
    expect(byId(h, '14')).toMatchObject({ kind: 'system', sender: 'user4000', pinned: '11' })
  })

  it('a wall-clock time the clocks skipped (02:30 on the night summer time starts) lands just after the change', () => {
    expect(byId(h, '13').ts).toBe(Date.UTC(2021, 2, 28, 1, 30))
  })
})

describe('current Telegram exports', async () => {
  const h = await load('current')

  it('date_unixtime wins over the wall clock, whatever the zone', async () => {
    expect(byId(h, '100').ts).toBe(1704186000000)
    expect(byId(await load('current', 'Asia/Tokyo'), '100').ts).toBe(1704186000000)
  })

  it('the original file name of every attachment, with or without the file in the export', () => {
    expect(byId(h, '100')).toMatchObject({ kind: 'file', fileName: 'LICENSE.md', text: 'the license', media: expect.stringMatching(/^[0-9a-f]{64}$/) })
    expect(byId(h, '107')).toMatchObject({ kind: 'file', fileName: 'budget.xlsx' })
    expect(byId(h, '107').media).toBeUndefined()
  })

  it('forward, bot, edit time, text_link and mention targets; the pinned message of a pin event', () => {
    expect(byId(h, '101')).toMatchObject({
      forwardedFrom: 'Ops news', viaBot: '@wiki', editedAt: 1704186180000, text: 'docs for Carol',
      links: [{ text: 'docs', url: 'https://example.org/docs' }, { text: 'Carol', url: 'tg://user?id=3000' }]
    })
    expect(byId(h, '102')).toMatchObject({ kind: 'system', pinned: '100' })
  })

  it('types Ferry does not model become readable placeholders, each counted; none is dropped', () => {
    expect(byId(h, '103').text).toBe('[to-do list: Release\n- tag\n- announce]')
    expect(byId(h, '104').text).toMatch(/^\[giveaway: quantity: 3, months: 6/)
    expect(byId(h, '105').text).toBe('[game: Lumberjack: Chop wood]')
    expect(byId(h, '108').text).toBe('[paid media: stars: 5]')
    expect(h.messages).toHaveLength(9)
    expect(h.unmapped).toEqual({
      'to-do list (kept as a placeholder text)': 1,
      'giveaway (kept as a placeholder text)': 1,
      'game (kept as a placeholder text)': 1,
      'reply to a message in another chat (the link dropped)': 1,
      'media not included in the export (message kept without it)': 1,
      'paid media (kept as a placeholder text)': 1
    })
  })

  it('a reply into another chat keeps no replyTo (it would name the wrong message)', () => {
    expect(byId(h, '106').replyTo).toBeUndefined()
  })
})
