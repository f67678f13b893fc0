import { fc } from '../../helpers/property.js'
import { describe, expect, it } from 'vitest'
import { decideDateOrder, readDate, type DateOrder, type WrittenDate } from '../../../src/sim/importers/date-order.js'
import { mapWhatsApp } from '../../../src/sim/importers/whatsapp.js'
import { FolderSource } from '../../../src/sim/importers/source.js'

// The order of day and month is a decision over a whole file. Whatever a chronological export holds,
// the decision is never confidently wrong: it names the true order, or it says it is guessing.


interface Day { year: number, month: number, day: number }

/** A chronological list of days: a start and non-negative steps (several messages a day, gaps of weeks). */
const chronology = fc.record({
  start: fc.date({ min: new Date(Date.UTC(2009, 0, 1)), max: new Date(Date.UTC(2030, 0, 1)), noInvalidDate: true }),
  steps: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 60 })), { minLength: 1, maxLength: 40 })
}).map(({ start, steps }) => {
  const days: Day[] = []
  let t = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate())
  for (const s of [0, ...steps]) {
    t += s * 86_400_000
    const d = new Date(t)
    days.push({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() })
  }
  return days
})

function write (days: Day[], order: 'dmy' | 'mdy', separator: string, shortYear: boolean, twelveHour: boolean): WrittenDate[] {
  return days.map(d => {
    const y = shortYear ? d.year % 100 : d.year
    const [a, b] = order === 'dmy' ? [d.day, d.month] : [d.month, d.day]
    return { a, b, c: y, aDigits: String(a).length, separator, twelveHour }
  })
}

const params = { numRuns: 400 }

describe('deciding the date order of a file', () => {
  it('is never confidently wrong about a chronological file, and reads every date it decides', () => {
    fc.assert(fc.property(chronology, fc.constantFrom<'dmy' | 'mdy'>('dmy', 'mdy'), fc.constantFrom('/', '-'), fc.boolean(), fc.boolean(), (days, truth, sep, shortYear, twelveHour) => {
      const dates = write(days, truth, sep, shortYear, twelveHour)
      const decision = decideDateOrder(dates)
      if (!decision.ambiguous) {
        // Either the true order, or one that reads every date the same (all days equal their months).
        const same = dates.every(d => readDate(d, decision.order)?.day === readDate(d, truth)?.day && readDate(d, decision.order)?.month === readDate(d, truth)?.month)
        expect(decision.order === truth || same).toBe(true)
      }
    }), params)
  })

  it('a day above 12 anywhere decides it for certain', () => {
    fc.assert(fc.property(chronology, fc.constantFrom<'dmy' | 'mdy'>('dmy', 'mdy'), (days, truth) => {
      fc.pre(days.some(d => d.day > 12))
      expect(decideDateOrder(write(days, truth, '/', true, false))).toMatchObject({ order: truth, ambiguous: false })
    }), params)
  })

  it('dots mean day first, and a date inside an attachment name decides what values cannot', () => {
    fc.assert(fc.property(chronology, (days) => {
      expect(decideDateOrder(write(days, 'dmy', '.', true, false))).toMatchObject({ order: 'dmy', ambiguous: false })
      // One attachment named after its day, on a date whose day and month differ.
      const i = days.findIndex(d => d.day !== d.month && d.day <= 12)
      fc.pre(i >= 0)
      for (const truth of ['dmy', 'mdy'] as const) {
        const dates = write(days, truth, '/', true, true)
        dates[i].fileDate = days[i]
        expect(decideDateOrder(dates)).toMatchObject({ order: truth, ambiguous: false })
      }
    }), params)
  })

  it('--date-order wins over any evidence', () => {
    fc.assert(fc.property(chronology, fc.constantFrom<DateOrder>('dmy', 'mdy', 'ymd'), (days, forced) => {
      expect(decideDateOrder(write(days, 'dmy', '/', false, false), forced)).toMatchObject({ order: forced, ambiguous: false })
    }), params)
  })

  it('where the dates decide nothing, a language that puts the day first in every region decides; it never overrides the dates', () => {
    const dayFirst = { dayFirst: true, said: 'the export is in Arabic' }
    const either = { dayFirst: false, said: 'the export is in Spanish' }
    fc.assert(fc.property(chronology, fc.boolean(), fc.boolean(), (days, shortYear, twelveHour) => {
      const dates = write(days, 'dmy', '/', shortYear, twelveHour)
      const alone = decideDateOrder(dates)
      const told = decideDateOrder(dates, undefined, () => dayFirst)
      if (alone.ambiguous) expect(told).toEqual({ order: 'dmy', reason: 'no date tells day from month; the export is in Arabic', ambiguous: false })
      else expect(told).toEqual(alone)
      // A language some of whose regions put the month first leaves the guess as it was, and says so.
      const unsure = decideDateOrder(dates, undefined, () => either)
      expect([unsure.order, unsure.ambiguous]).toEqual([alone.order, alone.ambiguous])
      if (alone.ambiguous) expect(unsure.reason).toMatch(/^a guess.*: no date tells day from month, and the export is in Spanish$/)
    }), params)
  })

  it('a 4-digit first field is a year', () => {
    expect(decideDateOrder([{ a: 2023, b: 12, c: 31, aDigits: 4, separator: '-', twelveHour: false }]).order).toBe('ymd')
  })

  it('one date against most of the file does not decide it', () => {
    const dmy = write([{ year: 2023, month: 3, day: 14 }, { year: 2023, month: 3, day: 15 }, { year: 2023, month: 3, day: 16 }], 'dmy', '/', false, false)
    const yearFirst: WrittenDate = { a: 2023, b: 3, c: 14, aDigits: 4, separator: '-', twelveHour: false }
    expect(decideDateOrder([dmy[0], yearFirst, ...dmy.slice(1)])).toMatchObject({ order: 'dmy', ambiguous: false })
    const monthFirst: WrittenDate = { a: 3, b: 14, c: 2023, aDigits: 1, separator: '/', twelveHour: false }
    expect(decideDateOrder([...dmy, monthFirst])).toMatchObject({ order: 'dmy', ambiguous: false })
    const dotted: WrittenDate = { a: 3, b: 4, c: 2023, aDigits: 1, separator: '.', twelveHour: false }
    const us = write([{ year: 2023, month: 3, day: 4 }, { year: 2023, month: 3, day: 4 }, { year: 2023, month: 5, day: 6 }], 'mdy', '/', false, true)
    expect(decideDateOrder([dotted, ...us]).reason).not.toMatch(/dots/)
  })
})

describe('the date order in a WhatsApp file', () => {
  const map = async (text: string, dateOrder?: DateOrder): Promise<Awaited<ReturnType<typeof mapWhatsApp>>> =>
    await mapWhatsApp(text, new FolderSource('.'), 'x.txt', 'T', { timeZone: 'UTC', dateOrder })

  it('a short chat whose days never pass 12 reads in message order, else warns and takes the guess that --date-order corrects', async () => {
    // 3/1 then 1/2: month first reads Mar 1 -> Jan 2 (backwards), day first reads Jan 3 -> Feb 1.
    const ordered = await map('3/1/24, 10:00 - A: hi\n1/2/24, 10:00 - B: later\n')
    expect(ordered.messages.map(m => m.ts)).toEqual([Date.UTC(2024, 0, 3, 10), Date.UTC(2024, 1, 1, 10)])
    expect(ordered.warnings).toEqual([])
    const one = await map('[5/6/24, 9:00:00 PM] A: only one date\n')
    expect(one.messages[0].ts).toBe(Date.UTC(2024, 4, 6, 21))
    expect(one.warnings?.[0]).toMatch(/could be day\/month or month\/day .*read as mdy.*--date-order dmy/)
    const forced = await map('[5/6/24, 9:00:00 PM] A: only one date\n', 'dmy')
    expect(forced.messages[0].ts).toBe(Date.UTC(2024, 5, 5, 21))
    expect(forced.warnings).toEqual([])
  })

  it('a pasted line that reads as a year-first header is text of the message it is in; the other dates stay day first', async () => {
    const h = await map('14/03/2023, 09:00 - Ann: deploy log below\n2023-03-14 08:59 - build finished\n14/03/2023, 09:05 - Bob: thanks\n15/03/2023, 10:00 - Ann: ok\n')
    expect(h.messages.map(m => [m.sender, m.text, m.ts])).toEqual([
      ['wa:Ann', 'deploy log below\n2023-03-14 08:59 - build finished', Date.UTC(2023, 2, 14, 9)],
      ['wa:Bob', 'thanks', Date.UTC(2023, 2, 14, 9, 5)],
      ['wa:Ann', 'ok', Date.UTC(2023, 2, 15, 10)]
    ])
    expect(h.details?.[0]).toMatch(/day\/month\/year/)
    const ios = await map('[14/03/2023, 09:00:00] Ann: log:\n[2023-03-14 08:59:00] INFO server up\n[14/03/2023, 09:05:00] Bob: thanks\n')
    expect(ios.messages.map(m => [m.text, m.ts])).toEqual([['log:\n[2023-03-14 08:59:00] INFO server up', Date.UTC(2023, 2, 14, 9)], ['thanks', Date.UTC(2023, 2, 14, 9, 5)]])
    // More pasted lines than messages: the export's first line says how the phone writes its headers.
    const log = await map('[14/03/2023, 09:00:00] Ann: log:\n[2023-03-14 08:59:00] INFO a\n[2023-03-14 08:59:01] INFO b\n[2023-03-14 08:59:02] INFO c\n[14/03/2023, 09:05:00] Bob: thanks\n')
    expect(log.messages.map(m => [m.sender, m.ts])).toEqual([['wa:Ann', Date.UTC(2023, 2, 14, 9)], ['wa:Bob', Date.UTC(2023, 2, 14, 9, 5)]])
    expect(log.messages[0].text).toBe('log:\n[2023-03-14 08:59:00] INFO a\n[2023-03-14 08:59:01] INFO b\n[2023-03-14 08:59:02] INFO c')
  })

  it('a line written like the headers whose date reads in no way the file does is text of the message before', async () => {
    const h = await map('14/03/2023, 09:00 - Ann: from the US office:\n03/15/2023, 10:00 - Joe: see you\n14/03/2023, 09:05 - Bob: ok\n15/03/2023, 10:00 - Ann: bye\n')
    expect(h.messages.map(m => [m.sender, m.text])).toEqual([
      ['wa:Ann', 'from the US office:\n03/15/2023, 10:00 - Joe: see you'], ['wa:Bob', 'ok'], ['wa:Ann', 'bye']
    ])
    expect(h.contacts.map(c => c.id)).toEqual(['wa:Ann', 'wa:Bob'])
    expect(h.warnings).toEqual([])
  })

  it('lines quoted from an older chat in this export\'s own format are text of the message they are in, counted', async () => {
    const h = await map([
      '30/12/2023, 20:00 - Anna: Look what I found from our old chat:',
      '14/05/2019, 18:12 - Carol: see you at the station',
      '14/05/2019, 18:13 - Carol: on my way',
      'with a line of its own',
      '30/12/2023, 20:03 - Bob: haha',
      '30/12/2023, 20:04 - Anna: those were the days'
    ].join('\n') + '\n')
    expect(h.messages.map(m => [m.sender, m.text, m.ts])).toEqual([
      ['wa:Anna', 'Look what I found from our old chat:\n14/05/2019, 18:12 - Carol: see you at the station\n14/05/2019, 18:13 - Carol: on my way\nwith a line of its own', Date.UTC(2023, 11, 30, 20)],
      ['wa:Bob', 'haha', Date.UTC(2023, 11, 30, 20, 3)],
      ['wa:Anna', 'those were the days', Date.UTC(2023, 11, 30, 20, 4)]
    ])
    expect(h.conversations[0]).toMatchObject({ kind: 'direct', members: ['wa:Anna', 'wa:Bob'] })
    expect(h.contacts.map(c => c.id)).toEqual(['wa:Anna', 'wa:Bob'])
    expect(h.unmapped).toEqual({ 'line like a message header dated more than a day before the message it stands in (kept as text of that message)': 2 })
  })

  it('messages a member sent offline, delivered days late between others, stay that member\'s messages', async () => {
    const late = [
      '10/12/2023, 09:00 - Bob: are you free this week?',
      '11/12/2023, 09:00 - Bob: hello?',
      '13/12/2023, 09:00 - Bob: I guess not',
      '10/12/2023, 10:00 - Anna: yes, on Friday',
      '11/12/2023, 10:00 - Anna: sorry, no signal here',
      '13/12/2023, 09:30 - Bob: ah, there you are'
    ]
    const bySender = (h: Awaited<ReturnType<typeof map>>): string[][] => h.messages.map(m => [m.sender, m.text ?? ''])
    const expected = [
      ['wa:Bob', 'are you free this week?'], ['wa:Bob', 'hello?'], ['wa:Bob', 'I guess not'],
      ['wa:Anna', 'yes, on Friday'], ['wa:Anna', 'sorry, no signal here'], ['wa:Bob', 'ah, there you are']
    ]
    // Anna writes elsewhere in the export: she is a member, not someone quoted.
    const h = await map([...late, '13/12/2023, 09:31 - Anna: see you Friday'].join('\n') + '\n')
    expect(bySender(h)).toEqual([...expected, ['wa:Anna', 'see you Friday']])
    expect(h.unmapped).toEqual({})
    // Her lines are all she wrote, but she is the exporter (--me), or the person the chat is named after.
    const mine = await mapWhatsApp(late.join('\n') + '\n', new FolderSource('.'), 'x.txt', 'Bob', { timeZone: 'UTC', me: 'Anna' })
    expect(mine.messages.map(m => [m.sender, m.text])).toEqual(expected.map(([who, text]) => [who === 'wa:Anna' ? 'me' : who, text]))
    const named = await mapWhatsApp(late.join('\n') + '\n', new FolderSource('.'), 'x.txt', 'Anna', { timeZone: 'UTC' })
    expect(bySender(named)).toEqual(expected)
  })

  it('messages a little out of order, or after a clock that went back and stayed, are messages', async () => {
    // Sent offline, delivered hours late; then the exporter's phone clock set back a week for good.
    const h = await map([
      '30/12/2023, 20:00 - Anna: one',
      '30/12/2023, 08:00 - Bob: sent offline this morning',
      '30/12/2023, 20:05 - Anna: two',
      '23/12/2023, 20:06 - Bob: three',
      '23/12/2023, 20:07 - Anna: four'
    ].join('\n') + '\n')
    expect(h.messages.map(m => m.text)).toEqual(['one', 'sent offline this morning', 'two', 'three', 'four'])
    expect(h.unmapped).toEqual({})
    // Where day and month stay a guess, a wrong guess would make real messages jump back: none is read as quoted.
    const guess = await map('01/05/2024, 10:00 - Ann: a\n01/06/2024, 10:00 - Bob: b\n02/05/2024, 10:00 - Ann: c\n02/06/2024, 10:00 - Bob: d\n01/07/2024, 10:00 - Ann: e\n')
    expect(guess.warnings?.[0]).toMatch(/could be day\/month or month\/day/)
    expect(guess.messages.map(m => m.text)).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it('a first message with an impossible date takes the time of the next, never 1970', async () => {
    const h = await map('31/02/2023, 09:00 - Ann: first\n01/03/2023, 09:05 - Bob: thanks\n')
    expect(h.messages.map(m => [m.text, m.ts])).toEqual([['first', Date.UTC(2023, 2, 1, 9, 5)], ['thanks', Date.UTC(2023, 2, 1, 9, 5)]])
    expect(h.unmapped).toEqual({ 'first message with an impossible date (time of the next message used)': 1 })
    await expect(map('13/03/2023, 09:00 - Ann: first\n14/03/2023, 09:05 - Bob: thanks\n', 'mdy')).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/no message date reads as month\/day\/year/) })
  })

  it('"05.06.19" is 5 June', async () => {
    expect((await map('[05.06.19, 13:14:15] A: x\n')).messages[0].ts).toBe(Date.UTC(2019, 5, 5, 13, 14, 15))
  })
})
