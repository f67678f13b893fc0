import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { importWhatsApp, mapWhatsApp, parseHeader } from '../../../src/sim/importers/whatsapp.js'
import { FolderSource } from '../../../src/sim/importers/source.js'
import { openExport } from '../../../src/sim/importers/detect.js'
import { cleanupTempDirs, openStore } from '../../helpers/stores.js'

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'whatsapp')
const ANDROID = join(DIR, 'android', 'WhatsApp Chat with Family.txt')
const DMY = join(DIR, 'android-dmy', 'WhatsApp Chat with Dave.txt')
const IOS = join(DIR, 'ios', 'WhatsApp Chat - Dave', '_chat.txt')
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')
const UTC = (y: number, mo: number, d: number, h: number, mi: number, s = 0): number => Date.UTC(y, mo - 1, d, h, mi, s)

afterAll(() => cleanupTempDirs())

async function load (file: string, me?: string): Promise<Awaited<ReturnType<typeof mapWhatsApp>>> {
  return await mapWhatsApp(readFileSync(file, 'utf8'), new FolderSource(dirname(file)), basename(file), 'T', { me, timeZone: 'UTC' })
}
const inline = async (text: string, title = 'T'): Promise<Awaited<ReturnType<typeof mapWhatsApp>>> => await mapWhatsApp(text, new FolderSource(DIR), 'x.txt', title, { timeZone: 'UTC' })

describe('WhatsApp headers', () => {
  it('reads Android (with " - ") and iOS ([...]) headers, 24h and 12h, with a leading U+200E', () => {
    expect(parseHeader('12/31/23, 21:05 - Name: text')).toMatchObject({ date: { a: 12, b: 31, c: 23 }, hour: 21, minute: 5, rest: 'Name: text', ios: false })
    expect(parseHeader('31/12/2023, 9:05 pm - Name: text')).toMatchObject({ date: { a: 31, b: 12, c: 2023, aDigits: 2 }, hour: 9, ampm: 'p' })
    expect(parseHeader('\u200e[31/12/2023, 21:05:33] Name: text')).toMatchObject({ second: 33, ios: true, rest: 'Name: text' })
    expect(parseHeader('[12/31/23, 9:05:33\u202fPM] Name: text')).toMatchObject({ ampm: 'p', ios: true })
    expect(parseHeader('just a continuation line')).toBeUndefined()
  })

  it('messages in the hour the clocks went back keep the export\'s order', async () => {
    const h = await mapWhatsApp('29/10/2023, 02:50 - Ann: a\n29/10/2023, 02:10 - Bob: b\n29/10/2023, 02:20 - Ann: c\n29/10/2023, 03:05 - Bob: d\n',
      new FolderSource(DIR), 'x.txt', 'T', { timeZone: 'Europe/Rome' })
    expect(h.messages.map(x => [x.text, new Date(x.ts).toISOString().slice(11, 16)])).toEqual([['a', '00:50'], ['b', '01:10'], ['c', '01:20'], ['d', '02:05']])
  })

  it('reads Finnish headers: "klo" between date and time, dots in the time', async () => {
    expect(parseHeader('[12.3.2022 klo 14.08.18] Matti: Moi')).toMatchObject({ date: { a: 12, b: 3, c: 2022 }, hour: 14, minute: 8, second: 18, rest: 'Matti: Moi' })
    expect(parseHeader('12.3.2022 klo 9.01 - Matti: Moi')).toMatchObject({ date: { a: 12, b: 3, c: 2022 }, hour: 9, minute: 1, rest: 'Matti: Moi' })
    const h = await inline('[12.3.2022 klo 14.08.18] Matti: Moi\n[12.3.2022 klo 14.09.02] Liisa: Hei\n[13.3.2022 klo 9.01.00] Matti: Huomenta\n')
    expect(h.messages.map(x => [x.sender, x.text, x.ts])).toEqual([
      ['wa:Matti', 'Moi', UTC(2022, 3, 12, 14, 8, 18)], ['wa:Liisa', 'Hei', UTC(2022, 3, 12, 14, 9, 2)], ['wa:Matti', 'Huomenta', UTC(2022, 3, 13, 9, 1)]
    ])
  })
})

describe('WhatsApp Android export (month first, 2-digit year)', async () => {
  const h = await load(ANDROID, 'Bob')
  const m = (i: number): Record<string, unknown> => h.messages[i] as unknown as Record<string, unknown>

  it('one group conversation titled by the caller, members in order of appearance with --me as "me"', () => {
    expect(h.conversations).toHaveLength(1)
    expect(h.conversations[0]).toMatchObject({ kind: 'group', title: 'T', members: ['wa:Alice', 'me', 'wa:Carol', 'wa:+49 170 1234567'] })
    expect(h.contacts).toEqual([
      { id: 'wa:Alice', name: 'Alice' },
      { id: 'wa:Carol', name: 'Carol' },
      { id: 'wa:+49 170 1234567', name: '+49 170 1234567', phone: '+49 170 1234567' }
    ])
  })

  it('system lines (no "Name:") -> system messages, even with a colon inside a quoted subject', () => {
    expect(m(0)).toMatchObject({ kind: 'system', sender: 'system', ts: UTC(2023, 12, 31, 21, 0) })
    expect(m(1)).toMatchObject({ kind: 'system', text: 'Alice created group "Family: the best"' })
    expect(m(2)).toMatchObject({ kind: 'system', text: 'Alice added Bob' })
  })

  it('continuation lines (blank ones too) belong to the message before', () => {
    expect(m(4)).toMatchObject({ sender: 'me', kind: 'text', text: 'Same to you: all the best\nand a second line\n\nafter a blank line' })
  })

  it('"FILE (file attached)" -> media beside the .txt, kind from the name (IMG image, PTT voice, STK sticker, other file), caption from the next lines', () => {
    expect(m(5)).toMatchObject({ kind: 'image', text: 'Fireworks!', media: sha(join(DIR, 'android', 'IMG-20231231-WA0001.jpg')), fileName: 'IMG-20231231-WA0001.jpg' })
    expect(m(6)).toMatchObject({ kind: 'voice', media: sha(join(DIR, 'android', 'PTT-20231231-WA0002.opus')) })
    expect(m(12)).toMatchObject({ kind: 'sticker', media: sha(join(DIR, 'android', 'STK-20231231-WA0004.webp')) })
    expect(m(13)).toMatchObject({ kind: 'file', text: 'the report', media: sha(join(DIR, 'android', 'report.pdf')), fileName: 'report.pdf' })
    expect(h.media.map(r => [r.path, r.mime]).sort()).toEqual([
      ['IMG-20231231-WA0001.jpg', 'image/jpeg'], ['PTT-20231231-WA0002.opus', 'audio/ogg'], ['STK-20231231-WA0004.webp', 'image/webp'], ['report.pdf', 'application/pdf']
    ])
  })

  it('<Media omitted> -> a file message without media, reported', () => {
    expect(m(7)).toEqual({ conversation: h.conversations[0].id, id: m(7).id, sender: 'wa:Alice', ts: UTC(2023, 12, 31, 21, 5), kind: 'file' })
    expect(h.unmapped['media left out of the export (message kept without it)']).toBe(1)
  })

  it('"This message was deleted" -> status recalled, no text', () => {
    expect(m(8)).toMatchObject({ sender: 'me', kind: 'text', status: 'recalled' })
    expect(m(8).text).toBeUndefined()
  })

  it('an attachment missing beside the .txt -> its kind without media, reported', () => {
    expect(m(9)).toMatchObject({ kind: 'video', sender: 'wa:Carol', fileName: 'VID-20231231-WA0003.mp4' })
    expect(m(9).media).toBeUndefined()
    expect(h.unmapped['media file missing from the export (message kept without it)']).toBe(1)
  })

  it('a shared location -> location, its text kept', () => {
    expect(m(10)).toMatchObject({ kind: 'location', location: { lat: 52.520008, lon: 13.404954 }, text: 'location: https://maps.google.com/?q=52.520008,13.404954' })
  })

  it('a poll is reported and kept as text', () => {
    expect(m(11)).toMatchObject({ kind: 'text', text: 'POLL:\nDinner?\nOPTION: Pizza (1 vote)\nOPTION: Sushi (0 votes)' })
    expect(h.unmapped['poll (kept as text)']).toBe(1)
  })

  it('2-digit years are 20xx; 1/1/24, 00:00 is midnight', () => {
    expect(m(14)).toMatchObject({ ts: UTC(2024, 1, 1, 0, 0), text: 'Happy 2024 🎉' })
    expect(h.messages).toHaveLength(15)
  })

  it('ids keep the export\'s order within a minute (the store orders by time, then id), stable, unique', async () => {
    const ids = h.messages.map(x => x.id)
    expect(new Set(ids).size).toBe(ids.length)
    const stored = [...h.messages].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    expect(stored.map(x => x.id)).toEqual(ids)
    expect(ids[0]).toMatch(/^wa_0000-[0-9a-f]{16}$/)
    expect((await load(ANDROID, 'Bob')).messages.map(x => x.id)).toEqual(ids)
  })

  it('without --me there is no "me": everyone is a contact', async () => {
    const anon = await load(ANDROID)
    expect(anon.conversations[0].members).toEqual(['wa:Alice', 'wa:Bob', 'wa:Carol', 'wa:+49 170 1234567'])
    expect(anon.messages.some(x => x.sender === 'me')).toBe(false)
  })
})

describe('WhatsApp Android export (day first, 4-digit year, 12-hour clock)', async () => {
  const h = await load(DMY)
  it('reads day first when a day is above 12, and am/pm (12 am is midnight, 12 pm noon)', () => {
    expect(h.messages.map(x => x.ts)).toEqual([UTC(2023, 12, 31, 21, 5), UTC(2023, 12, 31, 23, 59), UTC(2024, 1, 1, 0, 0), UTC(2024, 1, 1, 12, 30)])
  })
  it('two people without group events -> direct', () => {
    expect(h.conversations[0]).toMatchObject({ kind: 'direct', members: ['wa:Dave', 'wa:Eve'] })
    expect(h.unmapped).toEqual({})
  })
})

describe('WhatsApp iOS export', async () => {
  const h = await load(IOS, 'Eve')
  const m = (i: number): Record<string, unknown> => h.messages[i] as unknown as Record<string, unknown>

  it('a direct chat with --me; seconds in the time; day first', () => {
    expect(h.conversations[0]).toMatchObject({ kind: 'direct', members: ['wa:Dave', 'me'] })
    expect(m(1)).toMatchObject({ sender: 'wa:Dave', ts: UTC(2023, 12, 31, 21, 5, 10), text: 'Hi Eve' })
  })

  it('a U+200E-marked line attributed to a person is a system line (sender "system")', () => {
    expect(m(0)).toMatchObject({ kind: 'system', sender: 'system', text: expect.stringMatching(/^Messages and calls are end-to-end encrypted/) })
  })

  it('multi-line messages', () => {
    expect(m(2)).toMatchObject({ sender: 'me', text: 'Hi! Look:\nline two' })
  })

  it('<attached: FILE> -> PHOTO image, AUDIO voice, hashed from the files beside _chat.txt', () => {
    expect(m(3)).toMatchObject({ kind: 'image', media: sha(join(dirname(IOS), '00000012-PHOTO-2023-12-31-21-05-33.jpg')), fileName: '00000012-PHOTO-2023-12-31-21-05-33.jpg' })
    expect(m(3).text).toBeUndefined()
    expect(m(4)).toMatchObject({ kind: 'voice', sender: 'me', media: sha(join(dirname(IOS), '00000013-AUDIO-2023-12-31-21-05-40.opus')) })
  })

  it('"image omitted" -> image without media, reported', () => {
    expect(m(5)).toMatchObject({ kind: 'image' })
    expect(m(5).media).toBeUndefined()
    expect(h.unmapped['media left out of the export (message kept without it)']).toBe(1)
  })

  it('the lines under an "omitted" marker are the caption of the media it stands for', async () => {
    const android = await inline([
      '31/12/2023, 21:07 - Alice: <Media omitted>', 'nice', 'isn\'t it?',
      '31/12/2023, 21:09 - Bob: why was the image omitted', 'in the export?'
    ].join('\n') + '\n')
    expect(android.messages.map(x => [x.kind, x.text])).toEqual([['file', 'nice\nisn\'t it?'], ['text', 'why was the image omitted\nin the export?']])
    expect(android.unmapped['media left out of the export (message kept without it)']).toBe(1)
    const ios = await inline('[31/12/2023, 21:08:00] Bob: \u200eimage omitted\nthe view\n[31/12/2023, 21:09:00] Bob: \u200eMinutes.pdf • 1 page document omitted\nfor Monday\n')
    expect(ios.messages.map(x => [x.kind, x.fileName, x.text])).toEqual([['image', undefined, 'the view'], ['file', 'Minutes.pdf', 'Minutes.pdf • 1 page\nfor Monday']])
  })

  it('"You deleted this message." and "This message was deleted." -> recalled', () => {
    expect(m(6)).toMatchObject({ sender: 'me', status: 'recalled' })
    expect(m(7)).toMatchObject({ sender: 'wa:Dave', status: 'recalled' })
  })

  it('Location -> location (the marker stripped from its text)', () => {
    expect(m(8)).toMatchObject({ kind: 'location', location: { lat: 48.858, lon: 2.294 }, text: 'Location: https://maps.google.com/?q=48.858,2.294' })
  })

  it('a contact card is reported and kept as text; a missing sticker file is reported', () => {
    expect(m(9)).toMatchObject({ kind: 'text', text: 'Contact card omitted' })
    expect(m(10)).toMatchObject({ kind: 'sticker' })
    expect(h.unmapped).toEqual({
      'media left out of the export (message kept without it)': 1,
      'contact card left out of the export (kept as text)': 1,
      'media file missing from the export (message kept without it)': 1
    })
  })
})

describe('importWhatsApp', () => {
  it('titles the chat from the file name (Android) or its folder (iOS _chat.txt)', async () => {
    const s = openStore()
    const android = await openExport(ANDROID)
    expect(await importWhatsApp(s, android.source!, android.main!, android.title!, { me: 'Bob' })).toMatchObject({ format: 'whatsapp', conversations: 1, media: 4, mediaFiles: 4, messages: 15 })
    const ios = await openExport(dirname(IOS))
    expect(await importWhatsApp(s, ios.source!, ios.main!, ios.title!, { me: 'Eve' })).toMatchObject({ conversations: 1, media: 2, messages: 12 })
    expect(s.listConversations().map(c => c.title).sort()).toEqual(['Dave', 'Family'])
    s.close()
  })

  it('lines before the first header are reported; an empty file maps to nothing', async () => {
    const h = await inline('stray line\n12/31/23, 21:05 - A: hi\n')
    expect(h.unmapped).toEqual({ 'text before the first message (dropped)': 1 })
    expect(h.messages).toHaveLength(1)
    expect((await inline('')).conversations).toEqual([])
  })

  it('a header line with an impossible date is no header WhatsApp wrote: it is reported and kept as text of the message before', async () => {
    const h = await inline('12/31/23, 21:05 - A: ok\n2/30/24, 10:00 - A: hi\n')
    expect(h.unmapped).toEqual({ 'line like a message header whose date is no month/day/year date (kept as text of the message before)': 1 })
    expect(h.messages.map(x => [x.text, x.ts])).toEqual([['ok\n2/30/24, 10:00 - A: hi', UTC(2023, 12, 31, 21, 5)]])
  })
})

describe('WhatsApp senders', () => {
  it('the sender is found on the header line only: a colon on the lines after it is text', async () => {
    const h = await inline('13/04/2023, 10:00 - Ann:\nTodo: milk\n13/04/2023, 10:01 - Ann left\nNote: for later\n13/04/2023, 10:02 - Bob: fine\n')
    expect(h.contacts.map(c => c.id)).toEqual(['wa:Ann', 'wa:Bob'])
    expect(h.messages.map(x => [x.sender, x.kind, x.text])).toEqual([
      ['wa:Ann', 'text', 'Todo: milk'], ['system', 'system', 'Ann left\nNote: for later'], ['wa:Bob', 'text', 'fine']
    ])
  })
})

describe('WhatsApp senders whose names hold quotes', () => {
  it('a nickname in quotes is part of the name: their messages stay theirs; a subject quoted with a colon in it is still a system line', async () => {
    const names = ['Robert "Bob" Smith', 'Anna «Nana» Rossi', 'Jörg „Jo“ Meier', 'Kim “KJ” Lee']
    const ios = await inline(names.map((n, i) => `[13/04/2023, 10:0${i}:00] ${n}: hi from ${i}`).join('\n'))
    const subjects = ['Ann changed the subject from "Trip" to "Trip: day 2"', 'Ann created group «Plans: 2024»']
    const android = await inline([...subjects, ...names.map((n, i) => `${n}: hi from ${i}`)].map((l, i) => `13/04/2023, 10:0${i} - ${l}`).join('\n'))
    const said = names.map((n, i) => [`wa:${n}`, 'text', `hi from ${i}`])
    expect(ios.messages.map(x => [x.sender, x.kind, x.text])).toEqual(said)
    expect(android.messages.map(x => [x.sender, x.kind, x.text])).toEqual([...subjects.map(t => ['system', 'system', t]), ...said])
    for (const h of [ios, android]) expect(h.contacts.map(c => c.name)).toEqual(names)
  })
})

describe('WhatsApp edited messages', () => {
  it('the mark WhatsApp puts after an edited message is no part of its text, in Android, iOS and other languages', async () => {
    const android = await inline('13/04/2023, 10:01 - Bob: fine <This message was edited>\n13/04/2023, 10:02 - Ann: two\nlines <This message was edited>\n13/04/2023, 10:03 - Ann: Texto real <Se editó este mensaje.>\n')
    expect(android.messages.map(x => x.text)).toEqual(['fine', 'two\nlines', 'Texto real'])
    expect(android.unmapped).toEqual({ 'mark of an edited message (dropped: the export gives no time of the edit)': 3 })
    const ios = await inline('[03/02/2023, 08:00:00] Ann: This is edited \u200e<This message was edited>\n\u200e[03/02/2023, 08:01:00] Ann: \u200e<attached: 00000030-PHOTO-2023-02-03-08-01-00.jpg> \u200e<This message was edited>\n')
    expect(ios.messages.map(x => [x.kind, x.text])).toEqual([['text', 'This is edited'], ['image', undefined]])
  })

  it('the mark in Russian, Turkish and Indonesian; the same words inside a text stay', async () => {
    const ru = await inline('28.10.2023, 23:42 - Таня: Встретимся в 8 <Сообщение изменено>\n')
    const tr = await inline('12.10.2023 09:05 - Ayşe: düzelttim <Bu mesaj düzenlendi>\n')
    const id = await inline('20/10/2023 14.30 - Budi: jadi jam 8 ya <Pesan ini diedit>\n20/10/2023 14.31 - Budi: ia menulis <Pesan ini diedit> di tengah\n')
    expect([...ru.messages, ...tr.messages, ...id.messages].map(x => x.text)).toEqual(['Встретимся в 8', 'düzelttim', 'jadi jam 8 ya', 'ia menulis <Pesan ini diedit> di tengah'])
    for (const h of [ru, tr, id]) expect(h.unmapped).toEqual({ 'mark of an edited message (dropped: the export gives no time of the edit)': 1 })
  })
})

describe('WhatsApp iOS group notices', () => {
  it('lines iOS marked and attributed to the group\'s own title are system messages, whatever they say', async () => {
    const h = await inline([
      '[03/04/2023, 09:15:02] Hiking Club: \u200eAnn created group “Hiking Club”',
      '[03/04/2023, 09:16:00] Ann: Hi all',
      '[03/04/2023, 09:17:00] Hiking Club: \u200eBob changed their phone number to a new number. Tap to message or add the new number.',
      '[03/04/2023, 09:18:00] Hiking Club: \u200eAnn turned on disappearing messages. New messages will disappear from this chat 7 days after they’re sent.',
      '[03/04/2023, 09:19:00] Hiking Club: \u200eAnn pinned a message',
      '[13/04/2023, 09:20:00] Bob: ok'
    ].join('\n'), 'Hiking Club')
    expect(h.messages.map(x => [x.sender, x.kind])).toEqual([
      ['system', 'system'], ['wa:Ann', 'text'], ['system', 'system'], ['system', 'system'], ['system', 'system'], ['wa:Bob', 'text']
    ])
    expect(h.messages[4].text).toBe('Ann pinned a message')
    expect(h.contacts.map(c => c.id)).toEqual(['wa:Ann', 'wa:Bob'])
    expect(h.conversations[0].members).toEqual(['wa:Ann', 'wa:Bob'])
  })

  it('in a direct chat the person the chat is named after keeps their marked lines', async () => {
    const h = await inline('[03/04/2023, 09:16:00] Dave: hi\n[03/04/2023, 09:17:00] Dave: \u200eWaiting for this message. This may take a while.\n[13/04/2023, 09:20:00] Eve: ok\n', 'Dave')
    expect(h.messages.map(x => [x.sender, x.kind])).toEqual([['wa:Dave', 'text'], ['wa:Dave', 'text'], ['wa:Eve', 'text']])
  })
})

describe('WhatsApp block notices', () => {
  const direct = async (text: string): Promise<Awaited<ReturnType<typeof mapWhatsApp>>> =>
    await mapWhatsApp(text, new FolderSource(DIR), 'x.txt', 'Dave', { timeZone: 'UTC', me: 'Eve' })

  it('iOS attributes "You blocked this contact." to the contact: a system line, not their message, in each language known', async () => {
    const notices = [
      'You blocked this contact.', 'You unblocked this contact.', 'Bloqueaste a este contacto.', 'Desbloqueaste a este contacto.',
      'Você bloqueou este contato.', 'Você desbloqueou este contato.', 'Você bloqueou esse contato.', 'Você desbloqueou esse contato.', 'Hai bloccato questo contatto.', 'Hai sbloccato questo contatto.',
      'Du hast diesen Kontakt blockiert.', 'Du hast diesen Kontakt freigegeben.', 'Vous avez bloqué ce contact', 'Vous avez débloqué ce contact',
      'Вы заблокировали этот контакт', 'Вы разблокировали этот контакт', 'Bu kişiyi engellediniz', 'Bu kişinin engelini kaldırdınız',
      'U hebt dit contact geblokkeerd.', 'U hebt dit contact gedeblokkeerd.', 'Anda telah memblokir kontak ini', 'Anda membuka blokir kontak ini',
      'คุณได้บล็อครายชื่อนี้', 'คุณเลิกบล็อครายชื่อนี้แล้ว', '이 연락처를 차단했습니다', '이 연락처가 차단해제되었습니다'
    ]
    const h = await direct([
      '[03/04/2023, 09:16:00] Dave: hi',
      ...notices.map((n, i) => `[03/04/2023, 10:${String(i).padStart(2, '0')}:00] Dave: \u200e${n}`),
      '[04/04/2023, 09:20:00] Eve: sorry',
      '[04/04/2023, 09:21:00] Dave: You blocked this contact. Really?',
      '[04/04/2023, 09:22:00] Dave: Вы заблокировали этот контакт',
      '[04/04/2023, 09:23:00] Dave: \u200eBu kişiyi engellediniz mi?'
    ].join('\n'))
    expect(h.messages.map(x => [x.sender, x.kind, x.text])).toEqual([
      ['wa:Dave', 'text', 'hi'],
      ...notices.map(n => ['system', 'system', n]),
      ['me', 'text', 'sorry'],
      ['wa:Dave', 'text', 'You blocked this contact. Really?'],
      ['wa:Dave', 'text', 'Вы заблокировали этот контакт'],
      ['wa:Dave', 'text', 'Bu kişiyi engellediniz mi?']
    ])
    expect(h.conversations[0]).toMatchObject({ kind: 'direct', members: ['wa:Dave', 'me'] })
  })

  it('iOS in Arabic marks the notice with U+200F, which only WhatsApp\'s wording makes its own', async () => {
    const h = await mapWhatsApp([
      '\u200f[٣\u200f/٤\u200f/٢٠٢٣، ٩:١٦:٠٠ ص] سارة: مرحبا',
      '\u200f[٣\u200f/٤\u200f/٢٠٢٣، ٩:١٧:٠٠ ص] سارة: \u200fلقد حظرت جهة الاتصال هذه.',
      '\u200f[٣\u200f/٤\u200f/٢٠٢٣، ٩:١٨:٠٠ ص] سارة: \u200fلقد رفعت الحظر عن جهة الاتصال هذه.',
      '\u200f[٣\u200f/٤\u200f/٢٠٢٣، ٩:١٩:٠٠ ص] سارة: \u200fلقد حظرت جهة الاتصال هذه؟ لماذا'
    ].join('\n'), new FolderSource(DIR), 'x.txt', 'سارة', { timeZone: 'UTC', me: 'ليلى' })
    expect(h.messages.map(x => [x.sender, x.kind, x.text])).toEqual([
      ['wa:سارة', 'text', 'مرحبا'],
      ['system', 'system', 'لقد حظرت جهة الاتصال هذه.'],
      ['system', 'system', 'لقد رفعت الحظر عن جهة الاتصال هذه.'],
      ['wa:سارة', 'text', 'لقد حظرت جهة الاتصال هذه؟ لماذا']
    ])
  })

  it('iOS in Persian, after U+200F: blocking, and unblocking worded as adding the person back to the contacts', async () => {
    const h = await mapWhatsApp([
      '[۲۰۲۴/۲/۲۹, ۹:۰۰:۰۰ ق.ظ.] علی: سلام',
      '[۲۰۲۴/۲/۲۹, ۹:۰۱:۰۰ ق.ظ.] علی: \u200fشما این مخاطب را مسدود کردید.',
      '[۲۰۲۴/۲/۲۹, ۹:۰۲:۰۰ ق.ظ.] علی: \u200fاین فرد را دوباره به فهرست مخاطبان خود افزودید',
      '[۲۰۲۴/۲/۲۹, ۹:۰۳:۰۰ ق.ظ.] علی: شما این مخاطب را مسدود کردید'
    ].join('\n'), new FolderSource(DIR), 'x.txt', 'علی', { timeZone: 'UTC', me: 'رضا' })
    expect(h.messages.map(x => [x.sender, x.kind, x.text])).toEqual([
      ['wa:علی', 'text', 'سلام'],
      ['system', 'system', 'شما این مخاطب را مسدود کردید.'],
      ['system', 'system', 'این فرد را دوباره به فهرست مخاطبان خود افزودید'],
      ['wa:علی', 'text', 'شما این مخاطب را مسدود کردید']
    ])
  })

  it('after U+200F, in Arabic and Persian, a block notice is WhatsApp\'s only as the whole message: what a person says after its dot stays theirs', async () => {
    // U+200F may begin a person's text, so "You blocked this contact. Why?" is theirs, not WhatsApp's notice with a tail.
    const h = await mapWhatsApp([
      '[۲۰۲۴/۲/۲۹, ۹:۰۰:۰۰ ق.ظ.] علی: سلام',
      '[۲۰۲۴/۲/۲۹, ۹:۰۱:۰۰ ق.ظ.] علی: \u200fشما این مخاطب را مسدود کردید. چرا؟',
      '[۲۰۲۴/۲/۲۹, ۹:۰۲:۰۰ ق.ظ.] علی: \u200fلقد حظرت جهة الاتصال هذه. لماذا؟',
      '[۲۰۲۴/۲/۲۹, ۹:۰۳:۰۰ ق.ظ.] علی: \u200fشما این مخاطب را مسدود کردید'
    ].join('\n'), new FolderSource(DIR), 'x.txt', 'علی', { timeZone: 'UTC', me: 'رضا' })
    expect(h.messages.map(x => [x.sender, x.kind, x.text])).toEqual([
      ['wa:علی', 'text', 'سلام'],
      ['wa:علی', 'text', 'شما این مخاطب را مسدود کردید. چرا؟'],
      ['wa:علی', 'text', 'لقد حظرت جهة الاتصال هذه. لماذا؟'],
      ['system', 'system', 'شما این مخاطب را مسدود کردید']
    ])
    expect(h.conversations[0]).toMatchObject({ kind: 'direct', members: ['wa:علی', 'me'] })
  })
})

describe('WhatsApp conversation ids', () => {
  it('two chats whose first line is the same generic system line get different ids; the same chat the same id', async () => {
    const text = '12/31/23, 21:00 - Messages and calls are end-to-end encrypted.\n12/31/23, 21:01 - A: hi\n'
    const a = await inline(text, 'Alice')
    const b = await inline(text, 'Bob')
    expect(a.conversations[0].id).not.toBe(b.conversations[0].id)
    expect((await inline(text + '12/31/23, 21:02 - A: more\n', 'Alice')).conversations[0].id).toBe(a.conversations[0].id)
  })
})
