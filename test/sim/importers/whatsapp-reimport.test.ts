import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { writeHistory, type ForeignImportResult } from '../../../src/sim/importers/common.js'
import { FolderSource } from '../../../src/sim/importers/source.js'
import { importWhatsApp, mapWhatsApp, titleFromName } from '../../../src/sim/importers/whatsapp.js'
import type { Message } from '../../../src/store/model.js'
import type { SqliteChatStore } from '../../../src/store/sqlite-store.js'
import { cleanupTempDirs, openStore, tempDir } from '../../helpers/stores.js'

// Two exports of one chat, made at different times or with different options, imported into one store:
// each message must be there once, whatever the later export leaves out or adds.

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'whatsapp', 'reimport')
const CHAT = 'WhatsApp Chat with Dave.txt'
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

afterEach(() => cleanupTempDirs())

async function importExport (store: SqliteChatStore, dir: string, title = 'Dave'): Promise<void> {
  await importWhatsApp(store, new FolderSource(dir), CHAT, title, { timeZone: 'UTC' })
}

/** Each message as a person sees it: who wrote what, when. */
const shown = (s: SqliteChatStore): string[] => [...s.listMessages()].map(m => `${new Date(m.ts).toISOString().slice(0, 16)} ${m.sender}: ${m.kind === 'text' || m.kind === 'system' ? (m.text ?? '').slice(0, 20) : `[${m.kind}]${m.text === undefined ? '' : ' ' + m.text}`}`)

const JANUARY = [
  '2024-01-05T21:00 system: Messages and calls a',
  '2024-01-05T21:01 wa:Dave: Are you coming tonig',
  '2024-01-05T21:01 wa:Ann: Yes',
  '2024-01-05T21:01 wa:Ann: Bringing the cake',
  '2024-01-05T21:02 wa:Dave: [file]',
  '2024-01-05T21:02 wa:Dave: That\'s the door',
  '2024-01-05T21:03 wa:Ann: ok',
  '2024-01-05T21:03 wa:Ann: ok',
  '2024-01-13T10:15 wa:Dave: [file]',
  '2024-01-13T10:16 wa:Ann: Nice photo',
  '2024-01-13T10:16 wa:Dave: Thanks'
]
const FEBRUARY = ['2024-02-10T18:30 wa:Dave: See you Saturday', '2024-02-10T18:31 wa:Ann: 👍']

describe('importing two exports of one WhatsApp chat', () => {
  it('a later export, with a message deleted "for me" in the middle and two new ones, adds only the new ones', async () => {
    const s = openStore()
    await importExport(s, join(DIR, 'without-media'))
    expect(shown(s)).toEqual(JANUARY)
    await importExport(s, join(DIR, 'later'))
    // The message deleted on the phone since stays: an import adds, and the store held it.
    expect(shown(s)).toEqual([...JANUARY, ...FEBRUARY])
    expect(s.listConversations()).toHaveLength(1)
    s.close()
  })

  it('an export without media, then one with: each message once, with its media', async () => {
    const s = openStore()
    await importExport(s, join(DIR, 'without-media'))
    await importExport(s, join(DIR, 'with-media'))
    expect(shown(s)).toEqual(JANUARY.map(l => l.replace('[file]', '[image]')).map((l, i) => i === 4 ? l + ' The way in' : l))
    const photos = [...s.listMessages()].filter(m => m.kind === 'image')
    expect(photos.map(m => [m.fileName, m.media])).toEqual([
      ['IMG-20240105-WA0001.jpg', sha(join(DIR, 'with-media', 'IMG-20240105-WA0001.jpg'))],
      ['IMG-20240113-WA0002.jpg', sha(join(DIR, 'with-media', 'IMG-20240113-WA0002.jpg'))]
    ])
    expect(photos.every(m => s.hasMediaFile(m.media as string))).toBe(true)
    s.close()
  })

  it('an export with media, then one without: the messages keep their media', async () => {
    const s = openStore()
    await importExport(s, join(DIR, 'with-media'))
    const before = [...s.listMessages()]
    await importExport(s, join(DIR, 'without-media'))
    expect([...s.listMessages()]).toEqual(before)
    s.close()
  })

  it('an export capped at the most recent messages, then the full one: one chat, each message once', async () => {
    const s = openStore()
    await importExport(s, join(DIR, 'capped'))
    await importExport(s, join(DIR, 'later'))
    expect(s.listConversations()).toHaveLength(1)
    expect(shown(s)).toEqual([...JANUARY.filter(l => !l.endsWith('Ann: Yes')), ...FEBRUARY])
    s.close()
  })

  it('the full export, then a capped one: nothing changes', async () => {
    const s = openStore()
    await importExport(s, join(DIR, 'later'))
    const before = [...s.listMessages()]
    await importExport(s, join(DIR, 'capped'))
    expect([...s.listMessages()]).toEqual(before)
    s.close()
  })

  it('keeps the ids a store imported before ids were stable holds, adding nothing twice', async () => {
    const s = openStore()
    // The chat as an earlier Ferry stored it: ids from each line's place, the chat's from its first line.
    const dir = join(DIR, 'without-media')
    const mapped = await mapWhatsApp(readFileSync(join(dir, CHAT), 'utf8'), new FolderSource(dir), CHAT, 'Dave', { timeZone: 'UTC' })
    const old = 'wa-0123456789abcdef'
    await writeHistory(s, {
      ...mapped,
      conversations: [{ ...mapped.conversations[0], id: old }],
      messages: mapped.messages.map((m, i): Message => ({ ...m, conversation: old, id: `wa${String(i).padStart(8, '0')}-${'f'.repeat(16)}` }))
    }, new FolderSource(dir), CHAT, 'whatsapp')
    await importExport(s, join(DIR, 'later'))
    expect(s.listConversations().map(c => c.id)).toEqual([old])
    expect(shown(s)).toEqual([...JANUARY, ...FEBRUARY])
    s.close()
  })

  it('two chats of one title that share no message stay two chats, each imported again onto itself', async () => {
    const s = openStore()
    const family = (lines: string[]): string => {
      const dir = tempDir()
      writeFileSync(join(dir, CHAT), lines.join('\n') + '\n')
      return dir
    }
    const mine = family(['13/01/2024, 10:00 - Mum: Lunch on Sunday?', '13/01/2024, 10:01 - Dad: Yes'])
    const inLaws = family(['14/01/2024, 18:00 - Rosa: Who brings the wine?', '14/01/2024, 18:05 - Luis: Me'])
    await importExport(s, mine, 'Family')
    await importExport(s, inLaws, 'Family')
    await importExport(s, inLaws, 'Family')
    await importExport(s, mine, 'Family')
    const chats = s.listConversations()
    expect(chats.map(c => c.title)).toEqual(['Family', 'Family'])
    const of = (id: string): string[] => [...s.listMessages({ conversations: [id] })].map(m => m.text as string)
    expect(chats.map(c => of(c.id)).sort()).toEqual([['Lunch on Sunday?', 'Yes'], ['Who brings the wine?', 'Me']])
    s.close()
  })
})

// What a re-import must never do: write one message over another. Exports written here as text.
describe('a re-import never writes one message over another', () => {
  async function fromLines (store: SqliteChatStore, lines: string[], title: string): Promise<void> {
    const dir = tempDir()
    writeFileSync(join(dir, CHAT), lines.join('\n') + '\n')
    await importExport(store, dir, title)
  }
  const texts = (s: SqliteChatStore): string[] => [...s.listMessages()].map(m => `${m.sender}: ${m.text ?? ''}`)

  it('a message deleted "for me" before an edited one of the same sender and minute: both stay, the edit too', async () => {
    const store = openStore()
    await fromLines(store, ['05/01/2024, 21:01 - Ann: Yes', '05/01/2024, 21:01 - Ann: Bringing the cake', '05/01/2024, 21:05 - Dave: ok'], 'Dave')
    await fromLines(store, ['05/01/2024, 21:01 - Ann: Bringing a pie <This message was edited>', '05/01/2024, 21:05 - Dave: ok'], 'Dave')
    const now = texts(store)
    expect(now).toContain('wa:Ann: Yes')
    expect(now).toContain('wa:Ann: Bringing a pie')
    expect(now.filter(t => t === 'wa:Dave: ok')).toHaveLength(1)
    // Imported again, the same export changes nothing.
    await fromLines(store, ['05/01/2024, 21:01 - Ann: Bringing a pie <This message was edited>', '05/01/2024, 21:05 - Dave: ok'], 'Dave')
    expect(texts(store)).toEqual(now)
    store.close()
  })

  it('an edit the export marks, of the one message of its sender and minute: the message takes the new text', async () => {
    const store = openStore()
    await fromLines(store, ['05/01/2024, 21:01 - Ann: Bringing the cake', '05/01/2024, 21:05 - Dave: ok'], 'Dave')
    await fromLines(store, ['05/01/2024, 21:01 - Ann: Bringing a pie <This message was edited>', '05/01/2024, 21:05 - Dave: ok'], 'Dave')
    expect(texts(store)).toEqual(['wa:Ann: Bringing a pie', 'wa:Dave: ok'])
    store.close()
  })

  it('an older export imported after the one that shows an edit adds nothing: the edit stays', async () => {
    const older = ['31/12/2023, 23:59 - Alice: happy new yaer', '01/01/2024, 00:01 - Bob: you too']
    const newer = ['31/12/2023, 23:59 - Alice: happy new year!! <This message was edited>', '01/01/2024, 00:01 - Bob: you too']
    for (const order of [[older, newer, older], [newer, older]]) {
      const store = openStore()
      for (const lines of order) await fromLines(store, lines, 'Alice')
      expect(texts(store)).toEqual(['wa:Alice: happy new year!!', 'wa:Bob: you too'])
      expect(store.listConversations()).toHaveLength(1)
      store.close()
    }
  })

  it('an older export whose sender wrote several messages that minute, after the edit of one: one chat, no message lost', async () => {
    const store = openStore()
    await fromLines(store, ['05/01/2024, 21:01 - Ann: Bringing a pie <This message was edited>', '05/01/2024, 21:05 - Dave: ok'], 'Dave')
    await fromLines(store, ['05/01/2024, 21:01 - Ann: Yes', '05/01/2024, 21:01 - Ann: Bringing the cake', '05/01/2024, 21:05 - Dave: ok'], 'Dave')
    // Which of the two the edit was cannot be told: each version is kept.
    expect(texts(store).sort()).toEqual(['wa:Ann: Bringing a pie', 'wa:Ann: Bringing the cake', 'wa:Ann: Yes', 'wa:Dave: ok'])
    expect(store.listConversations()).toHaveLength(1)
    store.close()
  })

  it('a photo with a caption, from an export without media and then one with: one chat, the message once', async () => {
    const store = openStore()
    await fromLines(store, ['31/12/2023, 21:07 - Alice: <Media omitted>', 'nice', '31/12/2023, 21:08 - Bob: wow'], 'Alice')
    const dir = tempDir()
    writeFileSync(join(dir, CHAT), ['31/12/2023, 21:07 - Alice: IMG-20231231-WA0001.jpg (file attached)', 'nice', '31/12/2023, 21:08 - Bob: wow'].join('\n') + '\n')
    writeFileSync(join(dir, 'IMG-20231231-WA0001.jpg'), 'a photo')
    await importExport(store, dir, 'Alice')
    expect(store.listConversations()).toHaveLength(1)
    expect([...store.listMessages()].map(m => [m.kind, m.text, m.media !== undefined])).toEqual([['image', 'nice', true], ['text', 'wow', false]])
    store.close()
  })

  it('two groups of one title that share one forwarded message stay two chats', async () => {
    const store = openStore()
    await fromLines(store, ['05/01/2024, 09:00 - Mom: Happy birthday!', '05/01/2024, 10:00 - Dad: see you at 6'], 'Family')
    await fromLines(store, ['05/01/2024, 09:00 - Mom: Happy birthday!', '05/01/2024, 10:00 - Dad: call me'], 'Family')
    expect(texts(store)).toContain('wa:Dad: see you at 6')
    expect(texts(store)).toContain('wa:Dad: call me')
    expect([...store.listConversations()]).toHaveLength(2)
    store.close()
  })
})

describe('a WhatsApp chat renamed in the store', () => {
  it('stays one chat with its new name when its export comes again; a --title given then is the person\'s choice', async () => {
    const s = openStore()
    await importExport(s, join(DIR, 'without-media'))
    // The app (or the person) renames the chat.
    s.putMetadata([], [{ ...s.listConversations()[0], title: 'Dave (bike club)' }], [])
    await importExport(s, join(DIR, 'later'))
    expect(s.listConversations().map(c => c.title)).toEqual(['Dave (bike club)'])
    expect(shown(s)).toEqual([...JANUARY, ...FEBRUARY])
    await importWhatsApp(s, new FolderSource(join(DIR, 'later')), CHAT, 'Dave', { timeZone: 'UTC', title: 'Dave' })
    expect(s.listConversations().map(c => c.title)).toEqual(['Dave'])
    s.close()
  })
})

describe('an export of a chat the store holds, under another title', () => {
  const ANNA = [
    '30/12/2023, 20:00 - Anna: Dinner tomorrow?',
    '30/12/2023, 20:02 - Bob: Sure, where?',
    '30/12/2023, 20:03 - Anna: The usual place',
    '30/12/2023, 20:05 - Bob: See you at 8',
    '30/12/2023, 20:06 - Anna: Bring Carl',
    '30/12/2023, 20:07 - Bob: He is away',
    '30/12/2023, 20:08 - Anna: Pity',
    '30/12/2023, 20:09 - Bob: Next time'
  ]
  async function fromLines (store: SqliteChatStore, lines: string[], title: string, options: { title?: string } = {}): Promise<ForeignImportResult> {
    const dir = tempDir()
    writeFileSync(join(dir, CHAT), lines.join('\n') + '\n')
    return await importWhatsApp(store, new FolderSource(dir), CHAT, title, { timeZone: 'UTC', ...options })
  }
  const chats = (s: SqliteChatStore): Array<[string, number]> => s.listConversations().map((c): [string, number] => [c.title ?? '', [...s.listMessages({ conversations: [c.id] })].length]).sort((a, b) => a[0] < b[0] ? -1 : 1)

  it('the file a browser or phone saved again gives the same title', () => {
    expect(titleFromName('WhatsApp Chat with Anna(1).txt')).toBe('Anna')
    expect(titleFromName('WhatsApp Chat with Anna (2).txt')).toBe('Anna')
    expect(titleFromName('WhatsApp Chat - Anna(1).zip')).toBe('Anna')
    // Android's "-1" is no suffix to strip: group names end so too.
    expect(titleFromName('WhatsApp Chat with Anna-1.txt')).toBe('Anna-1')
    expect(titleFromName('WhatsApp Chat with Team-2.txt')).toBe('Team-2')
    // A name of its own that ends in a number keeps it.
    expect(titleFromName('WhatsApp Chat with Class-12.txt')).toBe('Class-12')
    expect(titleFromName('WhatsApp Chat with Covid-19 news.txt')).toBe('Covid-19 news')
    expect(titleFromName('WhatsApp Chat with Room 101.txt')).toBe('Room 101')
  })

  it('piped in without its file name: nothing changes, the chat keeps its title, and the summary says which chat it is', async () => {
    const s = openStore()
    await fromLines(s, ANNA, 'Anna')
    const before = [...s.listMessages()]
    const again = await fromLines(s, ANNA, 'WhatsApp chat')
    expect(chats(s)).toEqual([['Anna', 8]])
    expect([...s.listMessages()]).toEqual(before)
    expect(again.details).toContain('found as the chat \'Anna\' (a title of its own: --title)')
    // An older export, piped in after a newer one: the chat holds all of it.
    const t = openStore()
    await fromLines(t, [...ANNA, '31/12/2023, 09:00 - Anna: Happy new year!'], 'Anna')
    await fromLines(t, ANNA, 'WhatsApp chat')
    expect(chats(t)).toEqual([['Anna', 9]])
    // Found under its own title, nothing is said.
    expect((await fromLines(t, ANNA, 'Anna')).details.filter(d => d.startsWith('found as'))).toEqual([])
    s.close()
    t.close()
  })

  it('two groups whose names differ only in a number ("Team-1", "Team-2") stay two chats, sharing notices or not', async () => {
    const s = openStore()
    const notices = ['01/12/2023, 09:00 - Messages and calls are end-to-end encrypted.', '01/12/2023, 09:00 - Ann created group']
    for (const [file, said] of [['WhatsApp Chat with Team-1.txt', 'front end'], ['WhatsApp Chat with Team-2.txt', 'back end']]) {
      const dir = tempDir()
      writeFileSync(join(dir, file), [...notices, `01/12/2023, 09:05 - Ann: welcome to the ${said} team`, '01/12/2023, 09:06 - Bob: hi'].join('\n') + '\n')
      await importWhatsApp(s, new FolderSource(dir), file, titleFromName(file), { timeZone: 'UTC' })
    }
    expect(chats(s)).toEqual([['Team-1', 4], ['Team-2', 4]])
    s.close()
  })

  it('messages forwarded to two people, or greetings sent to two groups, do not make one chat of them', async () => {
    // Bob forwards the same three messages to Anna and to Carl at once.
    const forwarded = ['05/01/2024, 10:00 - Bob: Flat for rent', '05/01/2024, 10:00 - Bob: 2 rooms, 900 a month', '05/01/2024, 10:00 - Bob: Call Dan on 555 0100']
    const s = openStore()
    await fromLines(s, [...forwarded, '05/01/2024, 10:05 - Anna: Thanks!'], 'Anna')
    await fromLines(s, forwarded, 'Carl')
    expect(chats(s)).toEqual([['Anna', 4], ['Carl', 3]])
    // Eight greetings from "Family" sent to "Cousins" too, among more in "Family" that night: another chat.
    const night = ANNA.map(l => l.replace('30/12/2023', '31/12/2023'))
    const t = openStore()
    await fromLines(t, [...night.slice(0, 4), '31/12/2023, 20:05 - Dad: Happy new year to the family', ...night.slice(4), '31/12/2023, 20:10 - Mum: Love you all'], 'Family')
    const cousins = await fromLines(t, night, 'Cousins')
    expect(chats(t)).toEqual([['Cousins', 8], ['Family', 10]])
    expect(cousins.details.filter(d => d.startsWith('found as'))).toEqual([])
    s.close()
    t.close()
  })

  it('too few messages to tell, or a title the person gave: a chat of its own', async () => {
    const s = openStore()
    await fromLines(s, ANNA.slice(0, 7), 'Anna')
    await fromLines(s, ANNA.slice(0, 7), 'WhatsApp chat')
    expect(chats(s)).toEqual([['Anna', 7], ['WhatsApp chat', 7]])
    const t = openStore()
    await fromLines(t, ANNA, 'Anna')
    await fromLines(t, ANNA, 'Anna', { title: 'Anna (work)' })
    expect(chats(t)).toEqual([['Anna', 8], ['Anna (work)', 8]])
    s.close()
    t.close()
  })

  it('a chat that holds only some of the export\'s messages is another chat', async () => {
    const s = openStore()
    await fromLines(s, ANNA, 'Anna')
    await fromLines(s, [...ANNA.slice(0, 7), '30/12/2023, 20:09 - Bob: Can\'t, sorry'], 'Carla')
    expect(chats(s)).toEqual([['Anna', 8], ['Carla', 8]])
    s.close()
  })
})
