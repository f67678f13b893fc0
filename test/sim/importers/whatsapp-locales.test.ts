import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openExport } from '../../../src/sim/importers/detect.js'
import { mapWhatsApp } from '../../../src/sim/importers/whatsapp.js'
import type { MappedHistory } from '../../../src/sim/importers/common.js'
import type { Message } from '../../../src/store/model.js'

// WhatsApp exports in ten languages and two old eras, written by hand after the shapes public parsers
// document: each reads with its authors, its times in the given zone, its attachments named and stored,
// and what WhatsApp wrote itself (omitted media, deleted messages, system lines) known as such.

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'whatsapp')
const ROME = 'Europe/Rome'
/** A Rome wall-clock time in winter (UTC+1) or summer (UTC+2) as an instant. */
const rome = (y: number, mo: number, d: number, h: number, mi: number, s = 0, summer = false): number => Date.UTC(y, mo - 1, d, h - (summer ? 2 : 1), mi, s)

async function load (path: string, timeZone = ROME): Promise<MappedHistory & { title: string }> {
  const o = await openExport(path)
  expect(o.format).toBe('whatsapp')
  const h = await mapWhatsApp(await o.source!.readText(o.main!, 1 << 24), o.source!, o.main!, o.title!, { timeZone })
  await o.source!.close()
  return { ...h, title: o.title! }
}

interface Case {
  lang: string
  title: string
  /** [sender, kind, text or status] of every message, in order. */
  messages: Array<[string, Message['kind'], string?]>
  /** The attachment: index, file name, caption. */
  attachment: [number, string, string?]
  first: number
  group?: boolean
}

const S = 'system'
const CASES: Case[] = [
  { lang: 'en', title: 'Sam', first: rome(2023, 12, 1, 21, 5), attachment: [2, 'IMG-20231201-WA0007.jpg', 'the venue'],
    messages: [[S, 'system'], ['wa:Sam', 'text', 'Are we still on for Friday?'], ['wa:Kim', 'image'], ['wa:Sam', 'file'], ['wa:Kim', 'text', 'recalled'], ['wa:Sam', 'text', 'See you at 8']] },
  { lang: 'es', title: 'Lucía', first: rome(2023, 12, 31, 21, 5), group: true, attachment: [3, 'IMG-20231231-WA0005.jpg'],
    messages: [[S, 'system'], [S, 'system', 'Lucía creó el grupo "Fiesta"'], ['wa:Lucía', 'text', '¿Quién trae la tarta?'], ['wa:Pablo', 'image'], ['wa:Pablo', 'file'], ['wa:Lucía', 'text', 'recalled'], ['wa:Pablo', 'location']] },
  { lang: 'pt', title: 'Ana', first: rome(2023, 12, 31, 21, 5), attachment: [2, 'IMG-20231231-WA0011.jpg'],
    messages: [[S, 'system'], ['wa:Ana', 'text', 'Feliz ano novo!'], ['wa:João', 'image'], ['wa:Ana', 'file'], ['wa:João', 'text', 'recalled'], ['wa:Ana', 'text', 'ENQUETE:\nOnde?\nOPÇÃO: Praia (2 votos)\nOPÇÃO: Casa (0 votos)']] },
  { lang: 'it', title: 'Famiglia', first: rome(2019, 6, 5, 13, 14, 15, true), group: true, attachment: [3, '00000006-PHOTO-2019-06-05-13-15-02.jpg'],
    messages: [[S, 'system'], [S, 'system', 'Alessandro ha creato il gruppo “Famiglia”'], ['wa:Alessandro', 'text', 'Ciao a tutti'], ['wa:Giulia', 'image'], ['wa:Alessandro', 'image'],
      ['wa:Giulia', 'text', 'recalled'], ['wa:Alessandro', 'text', 'SONDAGGIO:\nCena?\nOPZIONE: Pizza (1 voto)\nOPZIONE: Sushi (0 voti)'], ['wa:Giulia', 'system', 'Chiamata vocale persa']] },
  { lang: 'fr', title: 'Claire', first: rome(2023, 12, 31, 21, 5), attachment: [2, 'IMG-20231231-WA0021.jpg', "le feu d'artifice"],
    messages: [[S, 'system'], ['wa:Claire', 'text', 'Bonne année !'], ['wa:Luc', 'image'], ['wa:Claire', 'file'], ['wa:Luc', 'text', 'recalled']] },
  { lang: 'de', title: 'Jonas', first: rome(2023, 12, 31, 21, 5), attachment: [2, 'IMG-20231231-WA0031.jpg'],
    messages: [[S, 'system'], ['wa:Jonas', 'text', 'Frohes neues Jahr!'], ['wa:Lena', 'image'], ['wa:Jonas', 'file'], ['wa:Lena', 'text', 'recalled'], ['wa:Jonas', 'location']] },
  { lang: 'nl', title: 'Jeroen', first: rome(2020, 8, 27, 11, 15, 0, true), group: true, attachment: [3, 'IMG-20200827-WA0041.jpg'],
    messages: [[S, 'system'], [S, 'system', 'Jeroen heeft de groep "Voetbal" aangemaakt'], ['wa:Jeroen', 'file'], ['wa:Sanne', 'image'], ['wa:Jeroen', 'text', 'recalled'], ['wa:Sanne', 'text', 'Tot zaterdag!']] },
  { lang: 'ru', title: 'Иван', first: rome(2023, 12, 31, 21, 5), attachment: [2, 'IMG-20231231-WA0051.jpg'],
    messages: [[S, 'system'], ['wa:Иван', 'text', 'С Новым годом!'], ['wa:Ольга', 'image'], ['wa:Иван', 'file'], ['wa:Ольга', 'text', 'recalled']] },
  { lang: 'tr', title: 'Ayşe', first: rome(2023, 12, 31, 21, 5), attachment: [2, 'IMG-20231231-WA0061.jpg'],
    messages: [[S, 'system'], ['wa:Ayşe', 'text', 'Mutlu yıllar!'], ['wa:Mehmet', 'image'], ['wa:Ayşe', 'file'], ['wa:Mehmet', 'text', 'recalled']] },
  { lang: 'id', title: 'Budi', first: rome(2024, 8, 20, 14, 29, 0, true), attachment: [2, 'IMG-20240820-WA0071.jpg', 'ini fotonya'],
    messages: [[S, 'system'], ['wa:+62 812-3456-7890', 'text', 'Halo, paket sudah sampai?'], ['wa:Budi', 'image'], ['wa:+62 812-3456-7890', 'file'], ['wa:Budi', 'text', 'recalled']] }
]

describe('WhatsApp exports in ten languages', () => {
  for (const c of CASES) {
    it(`${c.lang}: authors, kinds, times in ${ROME}, the attachment named and stored, omitted and deleted media known`, async () => {
      const h = await load(join(DIR, 'locales', c.lang))
      expect(h.title).toBe(c.title)
      expect(h.messages.map(m => [m.sender, m.kind])).toEqual(c.messages.map(([s, k]) => [s, k]))
      for (const [i, [, , t]] of c.messages.entries()) {
        if (t === 'recalled') expect(h.messages[i]).toMatchObject({ status: 'recalled' })
        else if (t !== undefined) expect(h.messages[i].text).toBe(t)
      }
      expect(h.messages[0].ts).toBe(c.first)
      expect(h.messages[0].text).toMatch(/end-to-end|extremo a extremo|ponta a ponta|bout en bout|Ende-zu-Ende|сквозным|uçtan uca/)
      const [i, name, caption] = c.attachment
      const file = join(DIR, 'locales', c.lang, c.lang === 'it' ? 'WhatsApp Chat - Famiglia' : '', name)
      expect(h.messages[i]).toMatchObject({ fileName: name, media: createHash('sha256').update(readFileSync(file)).digest('hex') })
      expect(h.messages[i].text).toBe(caption)
      expect(h.media.map(m => basename(m.path))).toEqual([name])
      expect(h.conversations[0].kind).toBe(c.group === true ? 'group' : 'direct')
      expect(h.unmapped['media left out of the export (message kept without it)']).toBe(1)
      expect(h.warnings).toEqual([])
      // WhatsApp's own marks never reach the text.
      for (const m of h.messages) expect(m.text ?? '').not.toMatch(/\u200e/)
    })
  }

  it('the 12-hour clock in Spanish ("p. m." after U+202F) and German ("vorm.", "nachm.")', async () => {
    const es = await load(join(DIR, 'locales', 'es'))
    expect(es.messages[6].ts).toBe(rome(2024, 1, 1, 0, 30))
    const de = await load(join(DIR, 'locales', 'de'))
    expect(de.messages[5].ts).toBe(rome(2024, 1, 1, 10, 0))
    expect(de.messages[1].ts).toBe(rome(2023, 12, 31, 21, 6))
  })

  it('"Name : text" (a space before the colon) is the contact "Name", without the space', async () => {
    const it = await load(join(DIR, 'locales', 'it'))
    expect(it.contacts.map(c => c.id)).toEqual(['wa:Alessandro', 'wa:Giulia'])
    const fr = await load(join(DIR, 'locales', 'fr'))
    expect(fr.contacts.map(c => c.id)).toEqual(['wa:Claire', 'wa:Luc'])
  })

  it('times are read in the zone asked for', async () => {
    const h = await load(join(DIR, 'locales', 'de'), 'America/New_York')
    expect(h.messages[1].ts).toBe(Date.UTC(2024, 0, 1, 2, 6))
    expect(h.details).toContain('times read in America/New_York')
  })
})

describe('WhatsApp exports from phones set to Arabic (Arabic-Indic digits, U+200F in dates, ص and م)', () => {
  const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

  it('Android "٣٠‏/١٢‏/٢٠٢٣، ٩:٠٥ م - Name: text": authors, times, the attachment; digits in the text stay as written', async () => {
    const dir = join(DIR, 'arabic', 'android')
    const h = await load(dir)
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['system', 'system', 'الرسائل والمكالمات مشفرة بين الطرفين.'],
      ['wa:سارة', 'text', 'مساء الخير! موعدنا ١٠:٣٠ م - لا تتأخر'],
      ['wa:عمر', 'text', 'كل عام وأنتم بخير\n٢٠٢٤ سنة سعيدة'],
      ['wa:سارة', 'image', 'صورة الحفلة'],
      ['wa:عمر', 'text', '١\u200f/١\u200f/٢٠٢٤، ٩:٠٠ ص - سأكون هناك']
    ])
    expect(h.messages.map(m => m.ts)).toEqual([rome(2023, 12, 30, 21, 5), rome(2023, 12, 30, 21, 6), rome(2023, 12, 31, 0, 15), rome(2023, 12, 31, 12, 40), rome(2023, 12, 31, 13, 2)])
    expect(h.messages[3]).toMatchObject({ fileName: 'IMG-20231231-WA0003.jpg', media: sha(join(dir, 'IMG-20231231-WA0003.jpg')) })
    expect(h.details).toContain('dates read as day/month/year (a first field above 12)')
    expect(h.warnings).toEqual([])
  })

  it('iOS "[١٨‏/٣‏/٢٠٢٢، ٢:٥٦:٠٠ م] Name: text" after U+200F, U+00A0 before م, CRLF: the chat\'s notices, authors, times, the attachment', async () => {
    const dir = join(DIR, 'arabic', 'ios', 'WhatsApp Chat - عائلة')
    const h = await load(join(DIR, 'arabic', 'ios'))
    expect(h.title).toBe('عائلة')
    expect(h.messages.map(m => [m.sender, m.kind])).toEqual([['system', 'system'], ['wa:ليلى', 'text'], ['wa:يوسف', 'image'], ['wa:ليلى', 'text']])
    expect(h.messages.map(m => m.ts)).toEqual([rome(2022, 3, 18, 14, 56), rome(2022, 3, 18, 14, 57, 30), rome(2022, 3, 18, 23, 4, 5), rome(2022, 3, 19, 0, 0, 1)])
    expect(h.messages[2]).toMatchObject({ fileName: '00000004-PHOTO-2022-03-18-23-04-05.jpg', media: sha(join(dir, '00000004-PHOTO-2022-03-18-23-04-05.jpg')) })
    expect(h.messages[3].text).toBe('تصبحون على خير')
  })

  it('Android in Arabic: "FILE (الملف مرفق)" and "(ملف مرفق)" link documents under their own names; omitted media and deleted messages known', async () => {
    const dir = join(DIR, 'arabic', 'android-media')
    const riyadh = (d: number, h: number, mi: number): number => Date.UTC(2024, 2, d, h - 3, mi)
    const h = await load(dir, 'Asia/Riyadh')
    expect(h.messages.map(m => [m.sender, m.kind, m.text, m.status])).toEqual([
      ['system', 'system', 'الرسائل والمكالمات مشفرة تمامًا بين الطرفين.', undefined],
      ['wa:ليلى', 'file', 'التقرير كاملاً', undefined],
      ['wa:يوسف', 'file', undefined, undefined],
      ['wa:ليلى', 'file', undefined, undefined],
      ['wa:يوسف', 'file', undefined, undefined],
      ['wa:ليلى', 'text', undefined, 'recalled'],
      ['wa:يوسف', 'text', undefined, 'recalled'],
      ['wa:ليلى', 'text', 'صباح الخير', undefined]
    ])
    expect(h.messages.map(m => m.ts)).toEqual([0, 1, 2, 3, 4, 5, 6].map(mi => riyadh(13, 20, mi)).concat(riyadh(14, 9, 0)))
    expect(h.messages[1]).toMatchObject({ fileName: 'تقرير الرحلة.pdf', media: sha(join(dir, 'تقرير الرحلة.pdf')) })
    expect(h.messages[2]).toMatchObject({ fileName: 'ملاحظات.txt', media: sha(join(dir, 'ملاحظات.txt')) })
    expect(h.media.map(m => basename(m.path)).sort()).toEqual(['تقرير الرحلة.pdf', 'ملاحظات.txt'].sort())
    expect(h.unmapped).toEqual({ 'media left out of the export (message kept without it)': 2 })
    expect(h.contacts.map(c => c.id)).toEqual(['wa:ليلى', 'wa:يوسف'])
  })

  it('iOS in Arabic: "<المُرفق: FILE>" with or without its damma; deleted messages, by others and by the exporter', async () => {
    const h = await inline([
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠١:٠٠ م] ليلى: \u200e<المرفق: 00000007-PHOTO-2024-03-10-20-01-00.jpg>',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٢:٠٠ م] يوسف: \u200e<المُرفق: 00000008-تقرير.pdf>',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٣:٠٠ م] ليلى: \u200eتم حذف هذه الرسالة.',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٤:٠٠ م] يوسف: \u200eلقد حذَفت هذه الرسالة.',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٥:٠٠ م] يوسف: \u200eلقد حذفت هذه الرسالة.'
    ].join('\r\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.fileName, m.status])).toEqual([
      ['wa:ليلى', 'image', '00000007-PHOTO-2024-03-10-20-01-00.jpg', undefined],
      ['wa:يوسف', 'file', '00000008-تقرير.pdf', undefined],
      ['wa:ليلى', 'text', undefined, 'recalled'],
      ['wa:يوسف', 'text', undefined, 'recalled'],
      ['wa:يوسف', 'text', undefined, 'recalled']
    ])
    expect(h.messages.every(m => m.text === undefined)).toBe(true)
  })

  const inline = async (text: string): Promise<MappedHistory> => {
    const o = await openExport(join(DIR, 'arabic', 'android'))
    return await mapWhatsApp(text, o.source!, 'x.txt', 'T', { timeZone: 'UTC' })
  }

  it('iOS in Arabic: a message a person began with U+200F stays theirs; WhatsApp\'s notices, after U+200E or U+200F, are its own', async () => {
    const o = await openExport(join(DIR, 'arabic', 'android'))
    const h = await mapWhatsApp([
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٠:٠٠ م] سارة: \u200eالرسائل والمكالمات مشفرة تمامًا بين الطرفين.',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠١:٠٠ م] سارة: \u200fمرحبا، هل وصلت؟',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٢:٠٠ م] ليلى: نعم',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٣:٠٠ م] سارة: \u200fسأكتب لك رمز الأمان لاحقًا',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٤:٠٠ م] سارة: \u200fغادر القطار للتو',
      '\u200f[١١\u200f/٣\u200f/٢٠٢٤، ٩:٠٠:٠٠ ص] سارة: \u200f\u200fتغيّر رمز أمانك المُستخدَم مع سارة. \u200fانقر هنا لمعرفة المزيد.'
    ].join('\n'), o.source!, 'x.txt', 'سارة', { timeZone: 'UTC', me: 'ليلى' })
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['system', 'system', 'الرسائل والمكالمات مشفرة تمامًا بين الطرفين.'],
      ['wa:سارة', 'text', 'مرحبا، هل وصلت؟'],
      ['me', 'text', 'نعم'],
      ['wa:سارة', 'text', 'سأكتب لك رمز الأمان لاحقًا'],
      ['wa:سارة', 'text', 'غادر القطار للتو'],
      ['system', 'system', 'تغيّر رمز أمانك المُستخدَم مع سارة. \u200fانقر هنا لمعرفة المزيد.']
    ])
    expect(h.conversations[0]).toMatchObject({ kind: 'direct', members: ['wa:سارة', 'me'] })
  })

  it('group events in Arabic: on Android a group of two is a group; on iOS, after U+200F, the group\'s name speaks them', async () => {
    const o = await openExport(join(DIR, 'arabic', 'android'))
    const read = async (text: string): Promise<MappedHistory> => await mapWhatsApp(text, o.source!, 'x.txt', 'رحلة', { timeZone: 'UTC', me: 'ليلى' })
    const android = await read([
      '٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٥ م - سارة أنشأ المجموعة "رحلة"',
      '٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٦ م - سارة أضاف ليلى',
      '٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٧ م - سارة: أهلاً',
      '٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٨ م - ليلى: مرحبا'
    ].join('\n'))
    const ios = await read([
      '\u200f[٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٥:٠٠ م] رحلة: \u200fسارة أنشأ المجموعة "رحلة"',
      '\u200f[٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٦:٠٠ م] رحلة: \u200fسارة أضاف ليلى',
      '\u200f[٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٧:٠٠ م] سارة: أهلاً',
      '\u200f[٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٨:٠٠ م] ليلى: مرحبا'
    ].join('\n'))
    for (const h of [android, ios]) {
      expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
        ['system', 'system', 'سارة أنشأ المجموعة "رحلة"'], ['system', 'system', 'سارة أضاف ليلى'], ['wa:سارة', 'text', 'أهلاً'], ['me', 'text', 'مرحبا']
      ])
      expect(h.conversations[0]).toMatchObject({ kind: 'group', members: ['wa:سارة', 'me'] })
    }
  })

  it('group events in Arabic on iOS: a creator who never writes in the chat still makes them the group\'s, not a member named after it', async () => {
    // Whoever created the group or added its members need never post; WhatsApp's Arabic verbs are its own wording, whoever acted.
    const o = await openExport(join(DIR, 'arabic', 'android'))
    const h = await mapWhatsApp([
      '\u200f[٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٥:٠٠ م] رحلة: \u200fسارة أنشأ المجموعة "رحلة"',
      '\u200f[٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٦:٠٠ م] رحلة: \u200fسارة أضاف ليلى',
      '\u200f[٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٦:٣٠ م] رحلة: \u200fسارة أضاف يوسف',
      '\u200f[٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٧:٠٠ م] يوسف: أهلاً',
      '\u200f[٣\u200f/٣\u200f/٢٠٢٤، ٩:٠٨:٠٠ م] ليلى: مرحبا'
    ].join('\n'), o.source!, 'x.txt', 'رحلة', { timeZone: 'UTC', me: 'ليلى' })
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['system', 'system', 'سارة أنشأ المجموعة "رحلة"'], ['system', 'system', 'سارة أضاف ليلى'], ['system', 'system', 'سارة أضاف يوسف'],
      ['wa:يوسف', 'text', 'أهلاً'], ['me', 'text', 'مرحبا']
    ])
    expect(h.conversations[0]).toMatchObject({ kind: 'group', members: ['wa:يوسف', 'me'] })
    expect(h.contacts.map(c => c.id)).toEqual(['wa:يوسف'])
    // Persian sentences of a shape a person's words do not take ("created group «سفر»", "added you") need no known actor either.
    const fa = await mapWhatsApp([
      '[۲۰۲۴/۲/۲۹, ۹:۰۰:۰۰ ق.ظ.] سفر: \u200fسارا گروه «سفر» را ایجاد کرد',
      '[۲۰۲۴/۲/۲۹, ۹:۰۱:۰۰ ق.ظ.] سفر: \u200fسارا شما را اضافه کرد',
      '[۲۰۲۴/۲/۲۹, ۹:۰۲:۰۰ ق.ظ.] رضا: سلام',
      '[۲۰۲۴/۲/۲۹, ۹:۰۳:۰۰ ق.ظ.] مریم: سلام'
    ].join('\n'), o.source!, 'x.txt', 'سفر', { timeZone: 'UTC', me: 'مریم' })
    expect(fa.messages.map(m => [m.sender, m.kind])).toEqual([['system', 'system'], ['system', 'system'], ['wa:رضا', 'text'], ['me', 'text']])
    expect(fa.conversations[0]).toMatchObject({ kind: 'group', members: ['wa:رضا', 'me'] })
  })

  it('a direct chat in Arabic: the other person\'s U+200F-led sentences with a group verb stay theirs', async () => {
    // A verb WhatsApp uses for group events ("أزال", removed; "غادر", left) with an actor nobody in the chat
    // is: with only the chat's namesake and the exporter writing, the chat may be direct, so these are her words.
    const o = await openExport(join(DIR, 'arabic', 'android'))
    // "Where are the photos?" / "Dad removed the photos" / "Why?" / "My brother left the house"
    const h = await mapWhatsApp([
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠١:٠٠ م] ليلى: \u200fأين الصور؟',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٢:٠٠ م] سارة: \u200fأبي أزال الصور',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٣:٠٠ م] ليلى: \u200fلماذا؟',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٤:٠٠ م] سارة: \u200fأخي غادر البيت'
    ].join('\n'), o.source!, 'x.txt', 'سارة', { timeZone: 'UTC', me: 'ليلى' })
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['me', 'text', 'أين الصور؟'], ['wa:سارة', 'text', 'أبي أزال الصور'], ['me', 'text', 'لماذا؟'], ['wa:سارة', 'text', 'أخي غادر البيت']
    ])
    expect(h.conversations[0]).toMatchObject({ kind: 'direct', members: ['me', 'wa:سارة'] })
    expect(h.contacts.map(c => c.id)).toEqual(['wa:سارة'])
  })

  it('iOS in Arabic: media left out, worded as phrases of their own after U+200F, a document\'s name before one', async () => {
    const lines = [
      ['ليلى', 'لم يتم إدراج الصورة'], ['يوسف', 'لم يتم إدراج الفيديوهات'], ['ليلى', 'لم يتم إدراج صورة GIF'], ['يوسف', 'لم يتم إدراج المقاطع الصوتية'],
      ['ليلى', 'تم حذف الملصقات'], ['يوسف', 'جدول الرحلة.xlsx \u200fلم يتم إدراج المستند'], ['ليلى', 'لم يتم إدراج بطاقة جهة اتصال']
    ]
    const h = await inline(lines.map(([name, text], i) => `\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠${i}:٠٠ م] ${name}: \u200f${text}`).join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind])).toEqual([
      ['wa:ليلى', 'image'], ['wa:يوسف', 'video'], ['wa:ليلى', 'video'], ['wa:يوسف', 'voice'], ['wa:ليلى', 'sticker'], ['wa:يوسف', 'file'], ['wa:ليلى', 'text']
    ])
    expect(h.messages[6].text).toBe('لم يتم إدراج بطاقة جهة اتصال')
    expect(h.unmapped).toEqual({ 'media left out of the export (message kept without it)': 6, 'contact card left out of the export (kept as text)': 1 })
  })

  it('iOS in Arabic: the edit mark after U+200F is dropped from the text and counted', async () => {
    const h = await inline([
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠١:٠٠ م] ليلى: سأتأخر قليلاً \u200f<تم تعديل هذه الرسالة>',
      '\u200f[١٠\u200f/٣\u200f/٢٠٢٤، ٨:٠٢:٠٠ م] يوسف: لا بأس'
    ].join('\n'))
    expect(h.messages.map(m => m.text)).toEqual(['سأتأخر قليلاً', 'لا بأس'])
    expect(h.unmapped).toEqual({ 'mark of an edited message (dropped: the export gives no time of the edit)': 1 })
  })

  it('Persian digits (U+06F0-U+06F9) and U+061C marks; a header in ASCII digits inside such an export is pasted text', async () => {
    const h = await inline('۱۴\u061c/۰۳\u061c/۲۰۲۳، ۱۰:۰۵ - علی: سلام ۱۲۳\n۱۴\u061c/۰۳\u061c/۲۰۲۳، ۱۰:۰۶ - رضا: 14/03/2023, 10:07 - x: y\n14/03/2023, 10:08 - x: y\n')
    expect(h.messages.map(m => [m.sender, m.ts, m.text])).toEqual([
      ['wa:علی', Date.UTC(2023, 2, 14, 10, 5), 'سلام ۱۲۳'],
      ['wa:رضا', Date.UTC(2023, 2, 14, 10, 6), '14/03/2023, 10:07 - x: y\n14/03/2023, 10:08 - x: y']
    ])
  })

  it('Persian am/pm, ق.ظ before noon and ب.ظ after, with or without their final dot, after U+200F and Persian digits', async () => {
    const tehran = (mo: number, d: number, h: number, mi: number, s = 0): number => Date.UTC(2024, mo - 1, d, h - 3, mi - 30, s)
    const o = await openExport(join(DIR, 'arabic', 'android'))
    const read = async (text: string): Promise<MappedHistory> => await mapWhatsApp(text, o.source!, 'x.txt', 'T', { timeZone: 'Asia/Tehran' })
    const android = await read([
      '\u200f۲۹\u200f/۲\u200f/۲۰۲۴، ۹:۰۵ ق.ظ - علی: صبح بخیر',
      '\u200f۲۹\u200f/۲\u200f/۲۰۲۴، ۲:۴۰ ب.ظ - رضا: ساعت ۲:۴۰ ب.ظ رسیدم',
      '\u200f۲۹\u200f/۲\u200f/۲۰۲۴، ۱۲:۱۵ ب.ظ - علی: ظهر',
      '\u200f۱\u200f/۳\u200f/۲۰۲۴، ۱۲:۰۱ ق.ظ - رضا: شب بخیر'
    ].join('\n'))
    expect(android.messages.map(m => [m.sender, m.ts, m.text])).toEqual([
      ['wa:علی', tehran(2, 29, 9, 5), 'صبح بخیر'],
      ['wa:رضا', tehran(2, 29, 14, 40), 'ساعت ۲:۴۰ ب.ظ رسیدم'],
      ['wa:علی', tehran(2, 29, 12, 15), 'ظهر'],
      ['wa:رضا', tehran(3, 1, 0, 1), 'شب بخیر']
    ])
    const ios = await read('[۲۰۲۴/۲/۲۹, ۸:۵۹:۱۰ ق.ظ.] علی: سلام\n[۲۰۲۴/۲/۲۹, ۱۱:۰۰:۰۰ ب.ظ.] رضا: خداحافظ\n')
    expect(ios.messages.map(m => [m.sender, m.ts])).toEqual([['wa:علی', tehran(2, 29, 8, 59, 10)], ['wa:رضا', tehran(2, 29, 23, 0)]])
    expect(ios.details).toContain('dates read as year/month/day (a 4-digit year first)')
  })

  it('Persian on iOS: "<پیوست: FILE>", U+200F before the word, names the attachment', async () => {
    const h = await inline('[۲۰۲۴/۲/۲۹, ۸:۵۹:۱۰ ق.ظ.] علی: \u200fگزارش سفر.pdf \u200f<\u200fپیوست: گزارش سفر.pdf>\n[۲۰۲۴/۲/۲۹, ۹:۰۰:۰۰ ق.ظ.] رضا: ممنون\n')
    expect(h.messages.map(m => [m.sender, m.kind, m.fileName, m.text])).toEqual([
      ['wa:علی', 'file', 'گزارش سفر.pdf', 'گزارش سفر.pdf'], ['wa:رضا', 'text', undefined, 'ممنون']
    ])
  })

  it('Android in Persian: "فایل پیوست شد FILE" names the attachment; media left out and deleted messages known', async () => {
    const dir = join(DIR, 'arabic', 'android')
    const h = await inline([
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۰۵ ب.ظ - علی: فایل پیوست شد IMG-20231231-WA0003.jpg',
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۰۶ ب.ظ - رضا: فایل پیوست شد گزارش سفر.pdf',
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۰۷ ب.ظ - علی: <رسانه حذف شد>',
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۰۸ ب.ظ - رضا: < پيوست نما/آهنگ حذف شد >',
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۰۹ ب.ظ - علی: این پیام حذف شد',
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۱۰ ب.ظ - رضا: شما این پیام را حذف کردید.',
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۱۱ ب.ظ - علی: فایل پیوست شد، دیدی؟'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.fileName, m.status, m.text])).toEqual([
      ['wa:علی', 'image', 'IMG-20231231-WA0003.jpg', undefined, undefined],
      ['wa:رضا', 'file', 'گزارش سفر.pdf', undefined, undefined],
      ['wa:علی', 'file', undefined, undefined, undefined],
      ['wa:رضا', 'file', undefined, undefined, undefined],
      ['wa:علی', 'text', undefined, 'recalled', undefined],
      ['wa:رضا', 'text', undefined, 'recalled', undefined],
      ['wa:علی', 'text', undefined, undefined, 'فایل پیوست شد، دیدی؟']
    ])
    expect(h.messages[0].media).toBe(sha(join(dir, 'IMG-20231231-WA0003.jpg')))
  })

  it('Android in Persian: "فایل پیوست شد" ("the file is attached") begins people\'s sentences too: without a file WhatsApp names or the export holds, they stay text', async () => {
    const dir = join(DIR, 'arabic', 'android')
    const h = await inline([
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۰۵ ب.ظ - علی: فایل پیوست شد به ایمیلت از info@digikala.com',
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۰۶ ب.ظ - رضا: فایل پیوست شد ولی باز نمیشه.چرا',
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۰۷ ب.ظ - علی: فایل پیوست شد IMG-20230403-WA0001.jpg',
      '\u200f۲۹\u200f/۱۲\u200f/۲۰۲۳، ۹:۰۸ ب.ظ - رضا: فایل پیوست شد گزارش سفر.pdf'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.fileName, m.text])).toEqual([
      ['wa:علی', 'text', undefined, 'فایل پیوست شد به ایمیلت از info@digikala.com'],
      ['wa:رضا', 'text', undefined, 'فایل پیوست شد ولی باز نمیشه.چرا'],
      ['wa:علی', 'image', 'IMG-20230403-WA0001.jpg', undefined],
      ['wa:رضا', 'file', 'گزارش سفر.pdf', undefined]
    ])
    expect(h.messages[3].media).toBe(sha(join(dir, 'گزارش سفر.pdf')))
  })

  it('iOS in Persian: media left out after U+200E, deleted messages after U+200F; the media phrases after U+200F alone stay text, WhatsApp\'s words kept', async () => {
    // iOS begins every line with U+200F, and a person's right-to-left text may begin with it: only U+200E makes "تصویر حذف شد" WhatsApp's.
    const fa = (i: number): string => String(i).padStart(2, '0').replace(/\d/g, d => '۰۱۲۳۴۵۶۷۸۹'[Number(d)])
    const lines = [
      ['علی', '\u200eتصویر حذف شد'], ['رضا', '\u200eویدیو حذف شد'], ['علی', '\u200f\u200eGIF حذف شد'], ['رضا', '\u200eصدا حذف شد'],
      ['علی', '\u200eاستیکر حذف شد'], ['رضا', 'گزارش.pdf \u200eسند حذف شد'], ['علی', '\u200eبرگ مخاطب حذف شد.'],
      ['رضا', '\u200fاین پیام حذف شده است.'], ['علی', '\u200fشما این پیام را حذف کردید.'], ['رضا', 'تصویر حذف شد'],
      ['علی', '\u200fویدیو حذف شد'], ['رضا', 'گزارش.pdf \u200fسند حذف شد']
    ]
    const h = await inline(lines.map(([name, text], i) => `\u200f[۲۰۲۴/۲/۲۹, ۹:${fa(i)}:۰۰ ق.ظ.] ${name}: ${text}`).join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.status])).toEqual([
      ['wa:علی', 'image', undefined], ['wa:رضا', 'video', undefined], ['wa:علی', 'video', undefined], ['wa:رضا', 'voice', undefined],
      ['wa:علی', 'sticker', undefined], ['wa:رضا', 'file', undefined], ['wa:علی', 'text', undefined],
      ['wa:رضا', 'text', 'recalled'], ['wa:علی', 'text', 'recalled'], ['wa:رضا', 'text', undefined],
      ['wa:علی', 'text', undefined], ['wa:رضا', 'text', undefined]
    ])
    expect([6, 9, 10, 11].map(i => h.messages[i].text)).toEqual(['برگ مخاطب حذف شد.', 'تصویر حذف شد', 'ویدیو حذف شد', 'گزارش.pdf \u200fسند حذف شد'])
    expect(h.unmapped).toEqual({ 'media left out of the export (message kept without it)': 6, 'contact card left out of the export (kept as text)': 1 })
  })

  it('iOS in Persian: a person\'s message that begins with U+200F and says "the image was deleted" stays their text', async () => {
    // A person's right-to-left text may begin with U+200F; only U+200E makes the words WhatsApp's.
    const h = await inline([
      '[۲۰۲۴/۲/۲۹, ۹:۰۰:۰۰ ق.ظ.] علی: \u200fعکس‌ها رو فرستادی؟',
      '[۲۰۲۴/۲/۲۹, ۹:۰۱:۰۰ ق.ظ.] رضا: \u200fتصویر حذف شد',
      '[۲۰۲۴/۲/۲۹, ۹:۰۲:۰۰ ق.ظ.] رضا: گزارش.pdf رو دیدی؟ \u200fسند حذف شد',
      '[۲۰۲۴/۲/۲۹, ۹:۰۳:۰۰ ق.ظ.] علی: \u200eتصویر حذف شد'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['wa:علی', 'text', 'عکس‌ها رو فرستادی؟'], ['wa:رضا', 'text', 'تصویر حذف شد'], ['wa:رضا', 'text', 'گزارش.pdf رو دیدی؟ \u200fسند حذف شد'], ['wa:علی', 'image', undefined]
    ])
    expect(h.unmapped).toEqual({ 'media left out of the export (message kept without it)': 1 })
  })

  it('iOS in Persian: "the image was deleted" after U+200F stays the person\'s text even on a line iOS began with U+200F', async () => {
    // iOS begins any line with U+200F in a right-to-left language, a person's message too: that mark says nothing of whose words follow.
    const h = await inline([
      '\u200f[۲۰۲۴/۲/۲۹, ۹:۰۰:۰۰ ق.ظ.] علی: \u200fعکس‌ها رو فرستادی؟',
      '\u200f[۲۰۲۴/۲/۲۹, ۹:۰۱:۰۰ ق.ظ.] رضا: \u200fتصویر حذف شد',
      '\u200f[۲۰۲۴/۲/۲۹, ۹:۰۲:۰۰ ق.ظ.] رضا: گزارش.pdf \u200fسند حذف شد',
      '\u200f[۲۰۲۴/۲/۲۹, ۹:۰۳:۰۰ ق.ظ.] علی: \u200eتصویر حذف شد'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['wa:علی', 'text', 'عکس‌ها رو فرستادی؟'], ['wa:رضا', 'text', 'تصویر حذف شد'], ['wa:رضا', 'text', 'گزارش.pdf \u200fسند حذف شد'], ['wa:علی', 'image', undefined]
    ])
    expect(h.unmapped).toEqual({ 'media left out of the export (message kept without it)': 1 })
  })

  it('iOS in Persian: missed calls after U+200F are WhatsApp\'s lines, still the caller\'s; the same words unmarked are a message', async () => {
    const calls = ['تماس صوتی پاسخ داده نشده', 'تماس تصویری بی\u200cپاسخ', 'تماس تصویری گروهی پاسخ داده نشده']
    const h = await inline([
      ...calls.map((c, i) => `[۲۰۲۴/۲/۲۹, ۹:۰${i}:۰۰ ق.ظ.] علی: \u200f${c}`),
      '[۲۰۲۴/۲/۲۹, ۹:۰۵:۰۰ ق.ظ.] رضا: تماس صوتی پاسخ داده نشده'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ...calls.map(c => ['wa:علی', 'system', c]), ['wa:رضا', 'text', 'تماس صوتی پاسخ داده نشده']
    ])
  })

  it('iOS in Persian: a person\'s U+200F-led message that begins with a missed call\'s words and says more stays theirs', async () => {
    // "I had a missed voice call from Mum": after U+200F, which a person's text may begin with, a call is WhatsApp's only as the whole message.
    const h = await inline([
      '[۲۰۲۴/۲/۲۹, ۹:۰۰:۰۰ ق.ظ.] علی: \u200fتماس صوتی پاسخ داده نشده از طرف مامان داشتم',
      '[۲۰۲۴/۲/۲۹, ۹:۰۱:۰۰ ق.ظ.] رضا: \u200fتماس تصویری پاسخ داده نشده.',
      '[۲۰۲۴/۲/۲۹, ۹:۰۲:۰۰ ق.ظ.] علی: \u200eتماس صوتی پاسخ داده نشده'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['wa:علی', 'text', 'تماس صوتی پاسخ داده نشده از طرف مامان داشتم'],
      ['wa:رضا', 'system', 'تماس تصویری پاسخ داده نشده.'],
      ['wa:علی', 'system', 'تماس صوتی پاسخ داده نشده']
    ])
  })

  it('iOS in Persian, a direct chat: the other person\'s U+200F-led sentences shaped like group events stay theirs, and the chat direct', async () => {
    // "Mum deleted the photos", "Dad quit smoking": WhatsApp's "{A} {X} را حذف کرد" and "{A} ترک کرد" with who acted no one in the chat.
    const o = await openExport(join(DIR, 'arabic', 'android'))
    const h = await mapWhatsApp([
      '[۲۰۲۴/۲/۲۹, ۹:۰۰:۰۰ ق.ظ.] مریم: \u200fعکس‌ها کجاست؟',
      '[۲۰۲۴/۲/۲۹, ۹:۰۱:۰۰ ق.ظ.] رضا: \u200fمامان عکس‌ها را حذف کرد',
      '[۲۰۲۴/۲/۲۹, ۹:۰۲:۰۰ ق.ظ.] مریم: \u200fچرا؟',
      '[۲۰۲۴/۲/۲۹, ۹:۰۳:۰۰ ق.ظ.] رضا: \u200fبابا سیگار را ترک کرد'
    ].join('\n'), o.source!, 'x.txt', 'رضا', { timeZone: 'UTC', me: 'مریم' })
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['me', 'text', 'عکس‌ها کجاست؟'], ['wa:رضا', 'text', 'مامان عکس‌ها را حذف کرد'], ['me', 'text', 'چرا؟'], ['wa:رضا', 'text', 'بابا سیگار را ترک کرد']
    ])
    expect(h.conversations[0]).toMatchObject({ kind: 'direct', members: ['me', 'wa:رضا'] })
  })

  it('iOS in Persian: a long message that ends like a group event imports whole, as its author\'s text', async () => {
    // Group events are read only as WhatsApp's short sentences: a long message is never searched for the ways its words could fill one.
    const long = 'سلام '.repeat(40_000) + 'را'
    const o = await openExport(join(DIR, 'arabic', 'android'))
    const h = await mapWhatsApp([
      '[۲۰۲۴/۲/۲۹, ۹:۰۰:۰۰ ق.ظ.] مریم: \u200fسلام',
      `[۲۰۲۴/۲/۲۹, ۹:۰۱:۰۰ ق.ظ.] رضا: \u200f${long}`,
      `[۲۰۲۴/۲/۲۹, ۹:۰۲:۰۰ ق.ظ.] ${long}`
    ].join('\n'), o.source!, 'x.txt', 'رضا', { timeZone: 'UTC', me: 'مریم' })
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([['me', 'text', 'سلام'], ['wa:رضا', 'text', long], ['system', 'system', long]])
    expect(h.conversations[0]).toMatchObject({ kind: 'direct', members: ['me', 'wa:رضا'] })
  })

  it('a first date before 2009 is another calendar (Solar Hijri 1402): refused, not stored as a wrong date', async () => {
    await expect(inline('۱۴\u061c/۰۳\u061c/۱۴۰۲، ۱۰:۰۵ - علی: سلام\n')).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/dated 1402, before WhatsApp existed/) })
    await expect(inline('[14/03/1402, 10:05:00] Ali: hi\n')).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/dated 1402/) })
  })
})

describe('WhatsApp exports from phones set to Korean (year first, 오전/오후 before the time)', () => {
  /** A Seoul wall-clock time (UTC+9 all year) as an instant. */
  const seoul = (mo: number, d: number, h: number, mi: number, s = 0): number => Date.UTC(2024, mo - 1, d, h - 9, mi, s)
  const read = async (text: string): Promise<MappedHistory> => {
    const o = await openExport(join(DIR, 'locales', 'en'))
    return await mapWhatsApp(text, o.source!, 'x.txt', '지민', { timeZone: 'Asia/Seoul' })
  }

  it('Android "2024. 3. 5. 오후 2:05 - Name: text" and iOS "[2024. 3. 5. 오후 2:05:33] Name: text": year, month, day; 오전 12 is midnight', async () => {
    const android = await read('2024. 3. 5. 오후 12:30 - 서준: 점심 먹었어?\n2024. 3. 5. 오후 2:05 - 지민: 안녕하세요\n2024. 3. 6. 오전 12:10 - 지민: 잘 자\n')
    const ios = await read('[2024. 3. 5. 오후 12:30:00] 서준: 점심 먹었어?\n[2024. 3. 5. 오후 2:05:33] 지민: 안녕하세요\n[2024. 3. 6. 오전 12:10:05] 지민: 잘 자\n')
    expect(android.messages.map(m => [m.sender, m.ts, m.text])).toEqual([
      ['wa:서준', seoul(3, 5, 12, 30), '점심 먹었어?'], ['wa:지민', seoul(3, 5, 14, 5), '안녕하세요'], ['wa:지민', seoul(3, 6, 0, 10), '잘 자']
    ])
    expect(ios.messages.map(m => m.ts)).toEqual([seoul(3, 5, 12, 30), seoul(3, 5, 14, 5, 33), seoul(3, 6, 0, 10, 5)])
    for (const h of [android, ios]) {
      expect(h.details?.[0]).toBe('dates read as year/month/day (a 4-digit year first)')
      expect(h.warnings).toEqual([])
    }
  })

  it('Android in Korean: "FILE (파일 첨부됨)" names the attachment; media left out and deleted messages known', async () => {
    const h = await read([
      '2024. 3. 5. 오후 2:05 - 지민: IMG-20231201-WA0007.jpg (파일 첨부됨)',
      '2024. 3. 5. 오후 2:06 - 서준: <미디어 파일 제외됨>',
      '2024. 3. 5. 오후 2:07 - 지민: <미디어 파일을 생략한 대화내용>',
      '2024. 3. 5. 오후 2:08 - 서준: 이 메시지는 삭제되었습니다',
      '2024. 3. 5. 오후 2:09 - 지민: 삭제한 메시지입니다'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.fileName, m.status, m.text])).toEqual([
      ['wa:지민', 'image', 'IMG-20231201-WA0007.jpg', undefined, undefined],
      ['wa:서준', 'file', undefined, undefined, undefined],
      ['wa:지민', 'file', undefined, undefined, undefined],
      ['wa:서준', 'text', undefined, 'recalled', undefined],
      ['wa:지민', 'text', undefined, 'recalled', undefined]
    ])
    expect(h.messages[0].media).toBeDefined()
  })

  it('iOS in Korean: missed calls after U+200E are WhatsApp\'s lines, still the caller\'s; the same words unmarked are a message', async () => {
    const calls = ['부재중 전화', '부재중 영상통화', '부재중 그룹 통화', '부재중 그룹 영상통화']
    const h = await read([
      ...calls.map((c, i) => `[2024. 3. 5. 오후 2:0${i}:00] 지민: \u200e${c}`),
      '[2024. 3. 5. 오후 2:05:00] 서준: 부재중 전화'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([...calls.map(c => ['wa:지민', 'system', c]), ['wa:서준', 'text', '부재중 전화']])
  })

  it('iOS in Korean: "< 첨부됨: FILE>", media left out after U+200E, deleted messages; the same words unmarked stay the person\'s', async () => {
    const lines = [
      ['지민', '\u200e< 첨부됨: 00000012-PHOTO-2024-03-05-14-05-33.jpg>'], ['서준', '\u200e이미지 생략됨'], ['지민', '\u200e비디오 생략됨'],
      ['서준', '\u200eGIF 생략됨'], ['지민', '\u200e오디오 생략됨'], ['서준', '\u200e스티커 제외됨'], ['지민', '보고서.pdf • \u200e3페이지 \u200e문서 생략됨'],
      ['서준', '\u200e연락처 카드 생략됨'], ['지민', '\u200e이 메시지는 삭제되었습니다.'], ['서준', '\u200e이 메시지를 삭제했습니다.'], ['지민', '이미지 생략됨']
    ]
    const h = await read(lines.map(([name, text], i) => `[2024. 3. 5. 오후 2:${String(10 + i)}:00] ${name}: ${text}`).join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.status])).toEqual([
      ['wa:지민', 'image', undefined], ['wa:서준', 'image', undefined], ['wa:지민', 'video', undefined], ['wa:서준', 'video', undefined],
      ['wa:지민', 'voice', undefined], ['wa:서준', 'sticker', undefined], ['wa:지민', 'file', undefined], ['wa:서준', 'text', undefined],
      ['wa:지민', 'text', 'recalled'], ['wa:서준', 'text', 'recalled'], ['wa:지민', 'text', undefined]
    ])
    expect(h.messages[0].fileName).toBe('00000012-PHOTO-2024-03-05-14-05-33.jpg')
    expect([h.messages[7].text, h.messages[10].text]).toEqual(['연락처 카드 생략됨', '이미지 생략됨'])
  })
})

describe('WhatsApp exports of old iOS (before 2017)', () => {
  it('"30/08/16, 17:03:58: Name: text" with CRLF: authors, multi-line messages, colons inside text', async () => {
    const h = await load(join(DIR, 'old-ios'))
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['system', 'system', 'Messages you send to this chat and calls are now secured with end-to-end encryption.'],
      ['wa:Marta', 'text', 'Are you coming tonight?'],
      ['wa:Tom', 'text', 'Yes!\nWith the cake'],
      ['wa:Marta', 'image', undefined],
      ['wa:Tom', 'text', 'Thanks for yesterday: it was lovely']
    ])
    expect(h.messages[1].ts).toBe(rome(2016, 8, 30, 17, 4, 10, true))
  })

  it('"08/10/13 14:07:41: Name: text": read, and the order its dates cannot decide is a warning', async () => {
    const h = await load(join(DIR, 'old-ios-2013'))
    expect(h.messages.map(m => [m.sender, m.text])).toEqual([['wa:Paul', 'Hello there'], ['wa:Sue', 'Hi Paul: how are you?'], ['wa:Paul', 'Fine'], ['wa:Sue', 'Morning']])
    expect(h.messages[0].ts).toBe(rome(2013, 10, 8, 14, 7, 41, true))
    expect(h.warnings?.[0]).toMatch(/--date-order mdy/)
  })
})

describe('attachments as older WhatsApp wrote them', () => {
  const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

  it('old iOS "FILE <attached>", WhatsApp\'s Android and iOS file names: media beside the .txt', async () => {
    const dir = join(DIR, 'old-ios-attached')
    const h = await load(dir)
    expect(h.messages.map(m => [m.sender, m.kind, m.fileName, m.text])).toEqual([
      ['wa:Tara', 'image', 'IMG-20160928-WA0003.jpg', undefined],
      ['wa:Alex', 'image', '2016-09-28-PHOTO-00000004.jpg', undefined],
      ['wa:Alex', 'text', undefined, 'the view from the ridge'],
      ['wa:Tara', 'image', 'IMG-20160928-WA0009.jpg', undefined]
    ])
    expect(h.messages[0].media).toBe(sha(join(dir, 'IMG-20160928-WA0003.jpg')))
    expect(h.messages[1].media).toBe(sha(join(dir, '2016-09-28-PHOTO-00000004.jpg')))
    expect(h.unmapped).toEqual({ 'media file missing from the export (message kept without it)': 1 })
  })

  it('Android "AUD-...-WA0000. (file attached)", the extension left out: the one file of that name, whatever its extension', async () => {
    const dir = join(DIR, 'android-2019')
    const h = await load(dir)
    expect(h.messages[0]).toMatchObject({ sender: 'wa:Ann', fileName: 'AUD-20190113-WA0000.opus', media: sha(join(dir, 'AUD-20190113-WA0000.opus')) })
    expect(h.messages[0].text).toBeUndefined()
    expect(h.messages[3]).toMatchObject({ sender: 'wa:Bob', kind: 'voice', fileName: 'PTT-20190113-WA0004.' })
    expect(h.messages[3].media).toBeUndefined()
  })

  it('Android: a named place\'s name and address on the lines before "location: URL" -> a location, its text kept', async () => {
    const h = await load(join(DIR, 'android-2019'))
    expect(h.messages[1]).toMatchObject({
      kind: 'location', location: { lat: 60.171, lon: 24.941 }, text: 'Helsinki Central Station\nKaivokatu 1, Helsinki\nlocation: https://maps.google.com/?q=60.171,24.941'
    })
    expect(h.messages[2]).toMatchObject({ kind: 'text', text: 'see you there' })
  })
})

describe('lines WhatsApp wrote itself and lines people wrote', () => {
  const map = async (text: string): Promise<MappedHistory> => {
    const o = await openExport(join(DIR, 'locales', 'en'))
    return await mapWhatsApp(text, o.source!, 'x.txt', 'T', { timeZone: 'UTC' })
  }

  it('a line with an author stays that author\'s unless its text is a known system phrase', async () => {
    const h = await map([
      '[1/2/24, 10:00:00] Ann: \u200eI added the photos to the album',
      '[1/2/24, 10:00:01] Ann: what is the security code for the door?',
      '[1/2/24, 10:00:02] Group: \u200eAnn added Bob',
      '[1/2/24, 10:00:03] Ann: \u200eMissed voice call'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind])).toEqual([['wa:Ann', 'text'], ['wa:Ann', 'text'], ['system', 'system'], ['wa:Ann', 'system']])
    expect(h.messages[0].text).toBe('I added the photos to the album')
  })

  it('attachments in a language not in the tables are still known by WhatsApp\'s own file names', async () => {
    const android = await map('1/2/24, 10:00 - Ann: IMG-20240102-WA0001.jpg (fil vedhæftet)')
    const ios = await map('[1/2/24, 10:00:01] Ann: \u200e<vedhæftet: 00000003-VIDEO-2024-01-02-10-00-01.mp4>')
    expect([...android.messages, ...ios.messages].map(m => [m.kind, m.fileName])).toEqual([['image', 'IMG-20240102-WA0001.jpg'], ['video', '00000003-VIDEO-2024-01-02-10-00-01.mp4']])
  })

  it('iOS documents keep their description; a BOM and mixed line ends are no part of any text', async () => {
    const h = await map('\ufeff[1/2/24, 10:00:00] Ann: \u200eReport.pdf • \u200e3 pages \u200e<attached: 00000004-Report.pdf>\r\n[1/2/24, 10:00:01] Ann: next\nline\r\n')
    expect(h.messages.map(m => [m.kind, m.fileName, m.text])).toEqual([['file', '00000004-Report.pdf', 'Report.pdf • 3 pages'], ['text', undefined, 'next\nline']])
  })
})

describe('WhatsApp exports from phones counting years in the Buddhist Era (Thailand: 2567 is 2024)', () => {
  const BANGKOK = 'Asia/Bangkok'
  /** A Bangkok wall-clock time (UTC+7 all year) as an instant. */
  const bangkok = (y: number, mo: number, d: number, h: number, mi: number, s = 0): number => Date.UTC(y, mo - 1, d, h - 7, mi, s)
  const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')
  const inline = async (text: string): Promise<MappedHistory> => {
    const o = await openExport(join(DIR, 'thai', 'android'))
    return await mapWhatsApp(text, o.source!, 'x.txt', 'T', { timeZone: BANGKOK })
  }

  it('Android in Thai "5/1/67 20:15 - Name: text": two-digit Buddhist years are 2024, the attachment found, said in the details', async () => {
    const dir = join(DIR, 'thai', 'android')
    const h = await load(dir, BANGKOK)
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([
      ['system', 'system', 'ข้อความและการโทรได้รับการเข้ารหัสตั้งแต่ต้นทางถึงปลายทาง'],
      ['wa:สมชาย', 'text', 'สวัสดีปีใหม่ 2567'],
      ['wa:มาลี', 'image', 'รูปจากงานเลี้ยง'],
      ['wa:สมชาย', 'text', 'ตื่นยัง'],
      ['wa:มาลี', 'text', 'ฝันดี']
    ])
    expect(h.messages.map(m => m.ts)).toEqual([
      bangkok(2024, 1, 5, 20, 14), bangkok(2024, 1, 5, 20, 15), bangkok(2024, 1, 5, 20, 16), bangkok(2024, 1, 6, 8, 3), bangkok(2024, 2, 11, 23, 59)
    ])
    expect(h.messages[2]).toMatchObject({ fileName: 'IMG-20240105-WA0002.jpg', media: sha(join(dir, 'IMG-20240105-WA0002.jpg')) })
    // The attachment's name is dated in the Gregorian calendar: it still tells day from month.
    expect(h.details).toEqual(['dates read as day/month/year (dates in attachment file names)', 'years read in the Buddhist Era (the first, written 67, is 2024)', 'times read in Asia/Bangkok'])
    expect(h.warnings).toEqual([])
  })

  it('29 February of Buddhist 2567 (2024, a leap year) is a date, with 4-digit years as older Android writes them', async () => {
    const h = await inline('28/2/2567 23:50 - มาลี: ก\n29/2/2567 0:10 - สมชาย: ข\n1/3/2567 9:00 - มาลี: ค\n')
    expect(h.messages.map(m => [m.sender, m.text, m.ts])).toEqual([
      ['wa:มาลี', 'ก', bangkok(2024, 2, 28, 23, 50)], ['wa:สมชาย', 'ข', bangkok(2024, 2, 29, 0, 10)], ['wa:มาลี', 'ค', bangkok(2024, 3, 1, 9, 0)]
    ])
    expect(h.unmapped).toEqual({})
  })

  it('iOS with the Buddhist calendar marks its years: "[2/29/2567 BE, 2:05:33 PM] Name: text"', async () => {
    const h = await inline('[2/29/2567 BE, 2:05:33 PM] Ann: hi\n[3/1/2567 BE, 9:00:00 AM] Bob: morning\n')
    expect(h.messages.map(m => [m.sender, m.text, m.ts])).toEqual([
      ['wa:Ann', 'hi', bangkok(2024, 2, 29, 14, 5, 33)], ['wa:Bob', 'morning', bangkok(2024, 3, 1, 9, 0)]
    ])
    expect(h.details).toContain('years read in the Buddhist Era (the first, written 2567 BE, is 2024)')
  })

  it('Android in Thai: media left out, "<สื่อถูกลบ>" and "<ไฟล์สื่อถูกลบ>", keep their message without the file', async () => {
    const h = await inline('13/1/67 20:15 - มาลี: <สื่อถูกลบ>\n13/1/67 20:16 - สมชาย: <ไฟล์สื่อถูกลบ>\n13/1/67 20:17 - มาลี: ขอบคุณ\n')
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([['wa:มาลี', 'file', undefined], ['wa:สมชาย', 'file', undefined], ['wa:มาลี', 'text', 'ขอบคุณ']])
    expect(h.unmapped).toEqual({ 'media left out of the export (message kept without it)': 2 })
  })

  it('Android in Thai: "FILE (ไฟล์ที่แนบ)" names a document by its own name', async () => {
    const h = await inline('13/1/67 20:15 - มาลี: รายงานประชุม.pdf (ไฟล์ที่แนบ)\n13/1/67 20:16 - สมชาย: ขอบคุณ\n')
    expect(h.messages.map(m => [m.sender, m.kind, m.fileName, m.text])).toEqual([
      ['wa:มาลี', 'file', 'รายงานประชุม.pdf', undefined], ['wa:สมชาย', 'text', undefined, 'ขอบคุณ']
    ])
    expect(h.unmapped).toEqual({ 'media file missing from the export (message kept without it)': 1 })
  })

  it('iOS in Thai: the chat\'s notices, deleted messages and media left out, as WhatsApp words them', async () => {
    const h = await inline([
      '[5/1/67 20:14:00] มาลี: \u200eข้อความและการโทรได้รับการเข้ารหัสจากต้นทางถึงปลายทาง',
      '[5/1/67 20:15:00] มาลี: สวัสดี',
      '\u200e[5/1/67 20:16:00] สมชาย: \u200eไม่มีรูปภาพ',
      '\u200e[5/1/67 20:17:00] มาลี: \u200eวิดีโอถูกลบ',
      '\u200e[5/1/67 20:18:00] สมชาย: \u200eไม่มีไฟล์เสียง',
      '\u200e[5/1/67 20:19:00] มาลี: \u200eไม่มีสติกเกอร์',
      '\u200e[5/1/67 20:20:00] สมชาย: \u200eละเว้น GIF',
      '\u200e[5/1/67 20:21:00] มาลี: แผนที่.pdf \u200eละเว้นเอกสาร',
      '[5/1/67 20:22:00] สมชาย: \u200eคุณได้ลบข้อความนี้',
      '[5/1/67 20:23:00] มาลี: \u200eข้อความนี้ถูกลบแล้ว',
      '[6/1/67 08:00:00] มาลี: \u200e\u200eรหัสความปลอดภัยของคุณกับ มาลี มีการเปลี่ยนแปลง \u200eแตะเพื่อเรียนรู้เพิ่มเติม'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.status])).toEqual([
      ['system', 'system', undefined], ['wa:มาลี', 'text', undefined], ['wa:สมชาย', 'image', undefined], ['wa:มาลี', 'video', undefined],
      ['wa:สมชาย', 'voice', undefined], ['wa:มาลี', 'sticker', undefined], ['wa:สมชาย', 'video', undefined], ['wa:มาลี', 'file', undefined],
      ['wa:สมชาย', 'text', 'recalled'], ['wa:มาลี', 'text', 'recalled'], ['system', 'system', undefined]
    ])
  })

  it('iOS in Thai: missed calls after U+200E are WhatsApp\'s lines, still the caller\'s; the same words unmarked are a message', async () => {
    const calls = ['สายที่ไม่ได้รับ', 'วิดีโอคอลที่ไม่ได้รับ', 'สายโทรเสียงแบบกลุ่มที่ไม่ได้รับ', 'วิดีโอคอลกลุ่มที่ไม่ได้รับ']
    const h = await inline([
      ...calls.map((c, i) => `[5/1/67 20:1${i}:00] มาลี: \u200e${c}`),
      '[5/1/67 20:15:00] สมชาย: สายที่ไม่ได้รับ'
    ].join('\n'))
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([...calls.map(c => ['wa:มาลี', 'system', c]), ['wa:สมชาย', 'text', 'สายที่ไม่ได้รับ']])
  })

  it('the Thai words for am and pm (ก่อนเที่ยง, หลังเที่ยง)', async () => {
    const h = await inline('13/1/67 8:05 ก่อนเที่ยง - มาลี: ก\n13/1/67 8:05 หลังเที่ยง - สมชาย: ข\n14/1/67 12:00 ก่อนเที่ยง - มาลี: ค\n')
    expect(h.messages.map(m => m.ts)).toEqual([bangkok(2024, 1, 13, 8, 5), bangkok(2024, 1, 13, 20, 5), bangkok(2024, 1, 14, 0, 0)])
  })

  it('a first year in the future that is no Buddhist year is refused, not stored; next year is read as it is', async () => {
    await expect(inline('[14/03/2100, 10:05:00] Ali: hi\n')).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/dated 2100, in the future/) })
    await expect(inline('14/03/40, 10:05 - Ali: hi\n')).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/dated 2040, in the future/) })
    const next = new Date().getUTCFullYear() + 1
    const h = await inline(`[1/1/${next}, 00:05:00] Ali: happy new year\n`)
    expect(h.messages[0].ts).toBe(bangkok(next, 1, 1, 0, 5))
    expect(h.details?.join('; ')).not.toMatch(/Buddhist/)
  })
})

describe('what the exporter did in a group, as WhatsApp words it in the second person of each language', () => {
  // Android writes such a line without "Name: "; iOS marks it and attributes it to the group. Either
  // way it is WhatsApp's, and it says the chat is a group however few members write in it.
  const YOU: Array<[string, string[]]> = [
    ['en', ['You created group “Trip”', 'You added Ann', 'You’re now an admin']],
    ['es', ['Creaste el grupo “Viaje”', 'Has creado el grupo “Viaje”', 'Añadiste a Ann', 'Cambiaste el asunto de “A” a “Viaje”']],
    ['pt', ['Você criou o grupo “Viagem”', 'Você adicionou Ann', 'Você mudou o assunto de “A” para “Viagem”']],
    ['it', ['Hai creato il gruppo “Gita”', 'Hai aggiunto Ann', 'Hai cambiato l’oggetto da “A” a “Gita”']],
    ['fr', ['Vous avez créé le groupe « Voyage »', 'Vous avez ajouté Ann', 'Vous avez changé le sujet de « A » à « Voyage »']],
    ['de', ['Du hast die Gruppe „Reise“ erstellt', 'Du hast Ann hinzugefügt', 'Du hast den Betreff von „A“ zu „Reise“ geändert']],
    ['nl', ['Je hebt de groep "Reis" aangemaakt', 'Je hebt Ann toegevoegd', 'Je hebt het onderwerp gewijzigd van "A" naar "Reis"']],
    ['ru', ['Вы создали группу «Поездка»', 'Вы добавили Ann', 'Вы изменили тему с «A» на «Поездка»']],
    ['tr', ['“Gezi” grubunu oluşturdunuz', 'Ann kişisini eklediniz']],
    ['id', ['Anda membuat grup "Liburan"', 'Anda menambahkan Ann']]
  ]
  const map = async (text: string, title: string): Promise<MappedHistory> => {
    const o = await openExport(join(DIR, 'locales', 'en'))
    return await mapWhatsApp(text, o.source!, 'x.txt', title, { timeZone: 'UTC', me: 'Bob' })
  }
  const expectGroupOfAnnAndMe = (h: MappedHistory, line: string): void => {
    expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([['system', 'system', line], ['wa:Ann', 'text', 'hi'], ['me', 'text', 'hello']])
    expect(h.conversations[0]).toMatchObject({ kind: 'group', members: ['wa:Ann', 'me'] })
    expect(h.contacts.map(c => c.id)).toEqual(['wa:Ann'])
  }

  for (const [lang, lines] of YOU) {
    it(`${lang}: on Android, a group the exporter made with one other person is a group`, async () => {
      for (const line of lines) {
        expectGroupOfAnnAndMe(await map(`31/12/2023, 21:05 - ${line}\n31/12/2023, 21:06 - Ann: hi\n31/12/2023, 21:07 - Bob: hello\n`, 'Trip'), line)
      }
    })

    it(`${lang}: on iOS, the line is WhatsApp's, not a contact's, even when the group is named otherwise than the chat`, async () => {
      for (const title of ['Trip', 'Trip 2023']) {
        for (const line of lines) {
          expectGroupOfAnnAndMe(await map(`[31/12/2023, 21:05:00] Trip: \u200e${line}\n[31/12/2023, 21:06:00] Ann: hi\n[31/12/2023, 21:07:00] Bob: hello\n`, title), line)
        }
      }
    })
  }

  it('the same words written by a person stay theirs, and a chat of two stays direct', async () => {
    const h = await map('[31/12/2023, 21:05:00] Dave: Du hast Ann hinzugefügt?\n[31/12/2023, 21:06:00] Dave: Hai aggiunto Ann?\n[31/12/2023, 21:07:00] Bob: ja\n', 'Dave')
    expect(h.messages.map(m => [m.sender, m.kind])).toEqual([['wa:Dave', 'text'], ['wa:Dave', 'text'], ['me', 'text']])
    expect(h.conversations[0].kind).toBe('direct')
  })
})

describe('group events in Thai, Persian and Korean: WhatsApp\'s whole sentences, names where they have them', () => {
  // [language, the exporter, the other member, the group's name, events: the other member's, then the exporter's]
  const EVENTS: Array<[string, string, string, string, string[]]> = [
    ['th', 'มาลี', 'สมชาย', 'ทริป', [
      'สมชาย ได้สร้างกลุ่ม “ทริป”', 'สมชาย ได้เพิ่ม มาลี เข้ากลุ่ม', 'สมชาย ได้เปลี่ยนหัวข้อเป็น “ทริป”', 'สมชาย ได้เปลี่ยนไอคอนกลุ่มนี้แล้ว',
      'สมชาย เข้าร่วมกลุ่มโดยใช้ลิงก์เชิญของกลุ่มนี้', 'สมชาย ออกจากกลุ่ม',
      'คุณได้เพิ่ม นิด เข้ากลุ่ม', 'คุณได้ลบ นิด ออก', 'คุณได้เปลี่ยนไอคอนกลุ่มนี้', 'คุณออกจากกลุ่มแล้ว'
    ]],
    ['fa', 'مریم', 'علی رضایی', 'سفر', [
      'علی رضایی گروه «سفر» را ایجاد کرد', 'مریم توسط علی رضایی اضافه شد', 'علی رضایی سارا را حذف کرد', 'علی رضایی موضوع را به «سفر» تغییر داد',
      'علی رضایی علامت این گروه را تغییر داد', 'علی رضایی با لینک دعوت به گروه پیوست', 'علی رضایی گروه را ترک کرد',
      'شما سارا را اضافه کردید', 'شما  سارا را اضافه کردید', 'شما موضوع را به "سفر" تغییر داده اید', 'شما گروه را ترک کردید'
    ]],
    ['ko', '지민', '서준', '여행', [
      '서준님이 “여행” 그룹을 만들었습니다.', '서준님이 지민님을 추가했습니다', '서준님이 하늘님을 퇴장시켰습니다', '서준님이 그룹 이름을 “여행”(으)로 변경했습니다.',
      '서준님이 그룹 아이콘을 변경했습니다', '서준님이 이 그룹 초대 링크로 참여했습니다', '서준님이 그룹에서 나갔습니다',
      '하늘님을 추가했습니다.', '하늘님을 퇴장시켰습니다', '그룹 이름을 “여행”(으)로 변경했습니다.', '퇴장했습니다'
    ]]
  ]
  const map = async (text: string, title: string, me: string): Promise<MappedHistory> => {
    const o = await openExport(join(DIR, 'locales', 'en'))
    return await mapWhatsApp(text, o.source!, 'x.txt', title, { timeZone: 'UTC', me })
  }
  const at = (i: number): string => `31/12/2023, 21:${String(10 + i)}`

  for (const [lang, me, other, group, events] of EVENTS) {
    const expectGroup = (h: MappedHistory): void => {
      expect(h.messages.map(m => [m.sender, m.kind, m.text])).toEqual([...events.map(e => ['system', 'system', e]), [`wa:${other}`, 'text', 'hello'], ['me', 'text', 'hi']])
      expect(h.conversations[0]).toMatchObject({ kind: 'group', members: [`wa:${other}`, 'me'] })
    }
    const talk = (ios: boolean): string[] => ios
      ? [`[${at(40)}:00] ${other}: hello`, `[${at(41)}:00] ${me}: hi`]
      : [`${at(40)} - ${other}: hello`, `${at(41)} - ${me}: hi`]

    it(`${lang}: on Android, lines without an author; a group of two that holds them is a group`, async () => {
      expectGroup(await map([...events.map((e, i) => `${at(i)} - ${e}`), ...talk(false)].join('\n'), group, me))
    })

    it(`${lang}: on iOS, marked lines from the group's name, or from another name when a member or the exporter acted`, async () => {
      const mark = lang === 'fa' ? '\u200f' : '\u200e'
      const ios = (name: string): string => [...events.map((e, i) => `[${at(i)}:00] ${name}: ${mark}${e}`), ...talk(true)].join('\n')
      expectGroup(await map(ios(group), group, me))
      // Persian's mark, U+200F, may begin a person's own text: only the chat's own voice speaks such lines.
      if (lang !== 'fa') {
        expectGroup(await map(ios(group), `${group} 2024`, me))
        // From a name other than the chat's, the sentence is WhatsApp's only when a member acted.
        const stranger = events[1].replace(other, 'Zed')
        const h = await map(`[${at(0)}:00] ${group}: \u200e${stranger}\n${talk(true).join('\n')}`, `${group} 2024`, me)
        expect(h.messages[0]).toMatchObject({ sender: `wa:${group}`, kind: 'text', text: stranger })
      }
      // The same sentence a person writes, unmarked, stays theirs, and a chat of two stays direct.
      const said = events[events.length - 4]
      const direct = await map(`[${at(0)}:00] ${other}: ${said}\n[${at(1)}:00] ${me}: ?\n`, other, me)
      expect(direct.messages.map(m => [m.sender, m.kind, m.text])).toEqual([[`wa:${other}`, 'text', said], ['me', 'text', '?']])
      expect(direct.conversations[0].kind).toBe('direct')
    })
  }
})

describe('the order of day and month where no day passes 12: the language the export is in', () => {
  const map = async (text: string): Promise<MappedHistory> => {
    const o = await openExport(join(DIR, 'locales', 'en'))
    return await mapWhatsApp(text, o.source!, 'x.txt', 'T', { timeZone: 'UTC' })
  }
  const M = '\u200f'
  /** 1 March 2024 21:05, 2 March 10:00, 9 March 19:40: read month first they are as chronological (3 Jan, 3 Feb, 3 Sep). */
  const MARCH = [Date.UTC(2024, 2, 1, 21, 5), Date.UTC(2024, 2, 2, 10, 0), Date.UTC(2024, 2, 9, 19, 40)]
  const DAY_FIRST: Array<[string, string, string[]]> = [
    ['Arabic: Arabic-Indic digits and ص/م', 'Arabic (Arabic-Indic digits, its am/pm)', [
      `١${M}/٣${M}/٢٠٢٤، ٩:٠٥ م - سارة: مساء الخير`, `٢${M}/٣${M}/٢٠٢٤، ١٠:٠٠ ص - عمر: صباح الخير`, `٩${M}/٣${M}/٢٠٢٤، ٧:٤٠ م - سارة: وصلت`]],
    ['Arabic on iOS: Arabic-Indic digits', 'Arabic (Arabic-Indic digits, its am/pm)', [
      `${M}[١${M}/٣${M}/٢٠٢٤، ٩:٠٥:٠٠ م] سارة: مساء الخير`, `${M}[٢${M}/٣${M}/٢٠٢٤، ١٠:٠٠:٠٠ ص] عمر: صباح الخير`, `${M}[٩${M}/٣${M}/٢٠٢٤، ٧:٤٠:٠٠ م] سارة: وصلت`]],
    ['Arabic with Latin digits (Algeria): ص/م', 'Arabic (its am/pm)', [
      `1${M}/3${M}/2024، 9:05 م - سارة: مساء الخير`, `2${M}/3${M}/2024، 10:00 ص - عمر: صباح الخير`, `9${M}/3${M}/2024، 7:40 م - سارة: وصلت`]],
    ['Arabic with Latin digits and a 24-hour clock (Morocco): WhatsApp\'s notice', 'Arabic (WhatsApp\'s wording)', [
      `1${M}/3${M}/2024، 21:05 - الرسائل والمكالمات مشفرة تمامًا بين الطرفين.`, `2${M}/3${M}/2024، 10:00 - عمر: صباح الخير`, `9${M}/3${M}/2024، 19:40 - سارة: وصلت`]],
    ['French: "à" before the time', 'French (the word before the time)', [
      '01/03/2024 à 21:05 - Claire : Salut', '02/03/2024 à 10:00 - Luc : Coucou', '09/03/2024 à 19:40 - Claire : Arrivée']],
    ['Portuguese: WhatsApp\'s notice and attachment marker', 'Portuguese (WhatsApp\'s wording)', [
      '01/03/2024 21:05 - As mensagens e as chamadas são protegidas com a criptografia de ponta a ponta.', '02/03/2024 10:00 - Ana: bom dia',
      '09/03/2024 19:40 - João: foto.jpg (arquivo anexado)']],
    ['Italian on iOS: a deleted message and the edit mark', 'Italian (WhatsApp\'s wording)', [
      '[01/03/24, 21:05:00] Giulia: \u200eQuesto messaggio è stato eliminato', '[02/03/24, 10:00:00] Marco: A domani <Questo messaggio è stato modificato>',
      '[09/03/24, 19:40:00] Giulia: Arrivata']],
    ['Dutch: dashes and omitted media', 'Dutch (WhatsApp\'s wording)', [
      '01-03-2024 21:05 - Sanne: <Media weggelaten>', '02-03-2024 10:00 - Jeroen: Goedemorgen', '09-03-2024 19:40 - Sanne: Ik ben er']],
    ['Indonesian: the security-code notice', 'Indonesian (WhatsApp\'s wording)', [
      '01/03/24 21.05 - Kode keamanan Anda dengan Budi telah berubah.', '02/03/24 10.00 - Budi: Selamat pagi', '09/03/24 19.40 - Sari: Sudah sampai']],
    ['Thai: ก่อนเที่ยง/หลังเที่ยง', 'Thai (its am/pm)', [
      '1/3/67 9:05 หลังเที่ยง - มาลี: สวัสดี', '2/3/67 10:00 ก่อนเที่ยง - สมชาย: อรุณสวัสดิ์', '9/3/67 7:40 หลังเที่ยง - มาลี: ถึงแล้ว']],
    ['Thai on iOS: WhatsApp\'s attachment marker', 'Thai (WhatsApp\'s wording)', [
      '[1/3/24 21:05:00] มาลี: \u200e<แนบ: 00000004-รายงาน.pdf>', '[2/3/24 10:00:00] สมชาย: อรุณสวัสดิ์', '[9/3/24 19:40:00] มาลี: ถึงแล้ว']],
    ['Greek: π.μ./μ.μ.', 'Greek (its am/pm)', [
      '1/3/24, 9:05 μ.μ. - Νίκος: Γεια', '2/3/24, 10:00 π.μ. - Ελένη: Καλημέρα', '9/3/24, 7:40 μ.μ. - Νίκος: Έφτασα']]
  ]

  for (const [name, language, lines] of DAY_FIRST) {
    it(`${name}: day first, without a warning, the details saying why`, async () => {
      const h = await map(lines.join('\n'))
      expect(h.messages.map(m => m.ts)).toEqual(MARCH)
      expect(h.warnings).toEqual([])
      expect(h.details?.[0]).toBe(`dates read as day/month/year (no date tells day from month; the export is in ${language}, which puts the day first in every region)`)
    })
  }

  it('Spanish and English put the month first in some regions (es-PA, en-US): the guess stays, and the details say why', async () => {
    const es = await map('3/1/24, 9:05 p. m. - Los mensajes y las llamadas están cifrados de extremo a extremo.\n3/2/24, 10:00 a. m. - Ana: hola\n9/3/24, 7:40 p. m. - Ana: llegué\n')
    const en = await map('3/1/24, 9:05 PM - Sam: <Media omitted>\n3/2/24, 10:00 AM - Kim: morning\n9/3/24, 7:40 PM - Sam: here\n')
    for (const h of [es, en]) {
      expect(h.messages.map(m => m.ts)).toEqual([Date.UTC(2024, 2, 1, 21, 5), Date.UTC(2024, 2, 2, 10, 0), Date.UTC(2024, 8, 3, 19, 40)])
      expect(h.warnings?.[0]).toMatch(/could be day\/month or month\/day .*--date-order dmy/)
    }
    expect(es.details?.[0]).toBe('dates read as month/day/year (a guess from the 12-hour clock: no date tells day from month, and the export is in Spanish (its am/pm, WhatsApp\'s wording), which puts the month first in some regions)')
    expect(en.details?.[0]).toBe('dates read as month/day/year (a guess from the 12-hour clock: no date tells day from month, and the export is in English (WhatsApp\'s wording), which puts the month first in some regions)')
  })

  it('with nothing of the language to go on, or languages that disagree, the guess stays, and the details say so', async () => {
    const none = await map('3/1/24, 9:05 PM - Sam: hi\n3/2/24, 10:00 AM - Kim: morning\n')
    expect(none.details?.[0]).toBe('dates read as month/day/year (a guess from the 12-hour clock: no date, and no word of the phone\'s language, tells day from month)')
    const both = await map('3/1/24, 9:05 p. m. - Ana: \u200eDiese Nachricht wurde gelöscht\n3/2/24, 10:00 a. m. - Ana: hola\n')
    expect(both.details?.[0]).toMatch(/a guess from the 12-hour clock: .*Spanish \(its am\/pm\), which puts the month first in some regions, and in German \(WhatsApp's wording\)\)$/)
    for (const h of [none, both]) expect(h.messages.map(m => m.ts)).toEqual([Date.UTC(2024, 2, 1, 21, 5), Date.UTC(2024, 2, 2, 10, 0)])
  })

  it('the language decides only where the dates do not: days above 12 and the messages\' order come first', async () => {
    const ambiguous = await map(`3${M}/1${M}/2024، 9:05 م - سارة: مساء الخير\n3${M}/2${M}/2024، 10:00 ص - عمر: صباح الخير\n`)
    expect(ambiguous.messages.map(m => m.ts)).toEqual([Date.UTC(2024, 0, 3, 21, 5), Date.UTC(2024, 1, 3, 10, 0)])
    // The same phone, had it written the month first, would be read so: the days tell, whatever the language says.
    const monthFirst = await map(`3${M}/13${M}/2024، 9:05 م - سارة: مساء الخير\n3${M}/14${M}/2024، 10:00 ص - عمر: صباح الخير\n`)
    expect(monthFirst.details?.[0]).toBe('dates read as month/day/year (a second field above 12)')
    // 5/3 then 1/4: 5 March, 1 April read day first; 3 May, then back to 4 January, month first.
    const order = await map(`5${M}/3${M}/2024، 9:05 م - سارة: مساء الخير\n1${M}/4${M}/2024، 10:00 ص - عمر: صباح الخير\n`)
    expect(order.details?.[0]).toBe('dates read as day/month/year (the order of the messages)')
  })
})
