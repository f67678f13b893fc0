import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { flattenText, importTelegram, mapTelegram } from '../../../src/sim/importers/telegram.js'
import type { MappedHistory } from '../../../src/sim/importers/common.js'
import type { Message } from '../../../src/store/model.js'
import { FolderSource } from '../../../src/sim/importers/source.js'
import { cleanupTempDirs, openStore } from '../../helpers/stores.js'

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'telegram')
const FULL = join(DIR, 'result.json')
const SINGLE = join(DIR, 'single', 'result.json')

const sha = (path: string): string => createHash('sha256').update(readFileSync(join(DIR, path))).digest('hex')

let full: MappedHistory
const msg = (conversation: string, id: string): Message | undefined => full.messages.find(m => m.conversation === conversation && m.id === id)

const map = async (root: unknown, dir = DIR): Promise<MappedHistory> => await mapTelegram(root, new FolderSource(dir), 'result.json', { timeZone: 'UTC' })

beforeAll(async () => {
  full = await map(JSON.parse(readFileSync(FULL, 'utf8')))
})
afterAll(() => cleanupTempDirs())

describe('Telegram export: people and chats', () => {
  it('maps the exporter (personal_information) to "me" and the contacts list to contacts with phones', () => {
    expect(full.contacts).toEqual([
      { id: 'user2000', name: 'Alice Liddell', phone: '+44 20 7946 0001' },
      { id: 'user2001', name: 'Bob', phone: '+1 555 0101' },
      { id: 'user2002', name: '' }
    ])
    expect(full.messages.filter(m => m.sender === 'user1000')).toEqual([])
    expect(msg('tg2000', '102')?.sender).toBe('me')
  })

  it('reports a contacts-list entry without a user id', () => {
    expect(full.unmapped['contact without user id']).toBe(1)
  })

  it('makes one conversation per chat: personal chats direct, groups group, members in order of appearance + me', () => {
    expect(full.conversations).toEqual([
      { id: 'tg2000', kind: 'direct', title: 'Alice Liddell', members: ['user2000', 'me'] },
      { id: 'tg3000', kind: 'group', title: 'Family', members: ['me', 'user2000', 'user2001', 'user2002'] }
    ])
  })

  it('a single-chat export of a personal chat finds "me" from the chat id (the peer)', async () => {
    const h = await map(JSON.parse(readFileSync(SINGLE, 'utf8')), dirname(SINGLE))
    expect(h.conversations).toEqual([{ id: 'tg4000', kind: 'direct', title: 'Dave', members: ['user4000', 'me'] }])
    expect(h.messages.map(m => [m.id, m.sender])).toEqual([['1', 'user4000'], ['2', 'me']])
    expect(h.unmapped).toEqual({ 'text formatting (bold, italic...) dropped': 1 })
  })

  it('refuses JSON that is not a Telegram export', async () => {
    await expect(map({ hello: 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' })
  })
})

describe('Telegram export: messages', () => {
  it('keeps Telegram ids as strings, ts from date_unixtime in ms', () => {
    expect(msg('tg2000', '101')).toEqual({ conversation: 'tg2000', id: '101', sender: 'user2000', ts: 1704056400000, kind: 'text', text: 'Hi Eve! 👋' })
  })

  it('flattens text arrays of strings and entities to plain text; replyTo from reply_to_message_id', () => {
    expect(flattenText(['a', { type: 'bold', text: 'b' }, { type: 'x' }, 'c'])).toBe('abc')
    expect(msg('tg2000', '102')).toMatchObject({ kind: 'text', text: 'Hello Alice, see https://example.org and @bob!\nSecond line', replyTo: '101' })
  })

  it('falls back to text_entities when text is empty', () => {
    expect(msg('tg3000', '210')).toMatchObject({ kind: 'text', text: 'entities only', replyTo: '202' })
  })

  it('photo -> image with the file hashed (sha256, size, mime from the extension) and its caption', () => {
    const m = msg('tg2000', '103')
    expect(m).toMatchObject({ kind: 'image', text: 'Fireworks', media: sha('photos/photo_1@31-12-2023_21-05-33.jpg') })
    expect(full.media.find(r => r.sha256 === m?.media)).toEqual({ sha256: m?.media, size: 22, mime: 'image/jpeg', path: 'photos/photo_1@31-12-2023_21-05-33.jpg' })
  })

  it('voice_message -> voice with durationMs from duration_seconds', () => {
    expect(msg('tg2000', '104')).toEqual({
      conversation: 'tg2000', id: '104', sender: 'me', ts: 1704056760000, kind: 'voice', media: sha('voice_messages/audio_1@31-12-2023_21-06-00.ogg'),
      durationMs: 3000, fileName: 'audio_1@31-12-2023_21-06-00.ogg'
    })
  })

  it('video_file whose file is missing -> video without media, caption kept, reported', () => {
    expect(msg('tg2000', '105')).toEqual({ conversation: 'tg2000', id: '105', sender: 'user2000', ts: 1704056820000, kind: 'video', text: 'our party', durationMs: 12000, fileName: 'video_1.mp4' })
    expect(full.unmapped['media file missing from the export (message kept without it)']).toBe(1)
  })

  it('sticker and animation left out of the export -> sticker / video without media, reported', () => {
    expect(msg('tg2000', '106')).toMatchObject({ kind: 'sticker' })
    expect(msg('tg2000', '106')?.media).toBeUndefined()
    expect(msg('tg3000', '205')).toMatchObject({ kind: 'video', text: 'lol', durationMs: 1000 })
    expect(full.unmapped['media not included in the export (message kept without it)']).toBe(2)
  })

  it('audio_file -> file (with duration); a document -> file; mime from mime_type', () => {
    expect(msg('tg3000', '203')).toMatchObject({ kind: 'file', text: 'listen', media: sha('files/song.mp3'), durationMs: 2000 })
    expect(msg('tg3000', '204')).toMatchObject({ kind: 'file', media: sha('files/notes.txt') })
    expect(full.media.find(r => r.sha256 === sha('files/song.mp3'))?.mime).toBe('audio/mpeg')
  })

  it('location_information -> location with place name and address as label', () => {
    expect(msg('tg2000', '107')).toMatchObject({ kind: 'location', location: { lat: 52.520008, lon: 13.404954, label: 'Brandenburger Tor, Pariser Platz' } })
  })

  it('service messages -> system, sender the actor, text describing the action', () => {
    expect(msg('tg3000', '201')).toMatchObject({ kind: 'system', sender: 'me', text: 'Eve Example created group «Family»' })
    expect(msg('tg2000', '110')).toMatchObject({ kind: 'system', sender: 'me', text: 'Outgoing call (1 min 5 s)' })
  })

  it('polls and contact cards are reported and kept as text', () => {
    expect(msg('tg2000', '108')).toMatchObject({ kind: 'text', text: 'Party at mine?\n- Yes\n- No' })
    expect(msg('tg2000', '109')).toMatchObject({ kind: 'text', text: 'Carol C +1 555 0102' })
    expect(full.unmapped['poll (kept as text: its question and answers, not its votes)']).toBe(1)
    expect(full.unmapped['contact card (kept as text)']).toBe(1)
  })

  it('an unknown media_type -> file, reported; an unknown message type with text -> system, reported', () => {
    expect(msg('tg3000', '206')).toMatchObject({ kind: 'file', text: 'future media' })
    expect(full.unmapped['media of unknown type "hologram" (kept as a file)']).toBe(1)
    expect(msg('tg3000', '208')).toMatchObject({ kind: 'system', text: 'Bob mentioned you in a story' })
    expect(full.unmapped['message of unknown type "story_mention" (kept as a system message)']).toBe(1)
  })

  it('content without a place in the model (a dice) is kept as a readable placeholder, and reported', () => {
    expect(msg('tg3000', '207')).toMatchObject({ kind: 'text', sender: 'user2001', text: '[dice: 🎲 4]' })
    expect(full.unmapped['dice (kept as a placeholder text)']).toBe(1)
  })

  it('a deleted account (from null) keeps its from_id as sender, with an empty name', () => {
    expect(msg('tg3000', '209')).toMatchObject({ sender: 'user2002', text: 'I am a deleted account' })
  })

  it('every message of the export is mapped, and the whole report is what it says', () => {
    expect(full.messages).toHaveLength(20)
    expect(full.unmapped).toEqual({
      'contact without user id': 1,
      'text formatting (bold, italic...) dropped': 1,
      'media file missing from the export (message kept without it)': 1,
      'media not included in the export (message kept without it)': 2,
      'poll (kept as text: its question and answers, not its votes)': 1,
      'contact card (kept as text)': 1,
      'media of unknown type "hologram" (kept as a file)': 1,
      'dice (kept as a placeholder text)': 1,
      'message of unknown type "story_mention" (kept as a system message)': 1
    })
  })
})

describe('importTelegram', () => {
  it('writes the mapped history and copies the media files into the store', async () => {
    const s = openStore()
    const r = await importTelegram(s, new FolderSource(DIR), 'result.json')
    expect(r).toMatchObject({ format: 'telegram', contacts: 3, conversations: 2, media: 4, mediaFiles: 4, messages: 20 })
    expect(s.hasMediaFile(sha('photos/photo_1@31-12-2023_21-05-33.jpg'))).toBe(true)
    s.close()
  })

  it('refuses a file that is not JSON, changing nothing', async () => {
    const s = openStore()
    await expect(importTelegram(s, new FolderSource(DIR), 'files/notes.txt')).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/not a recognised chat export/) })
    expect(s.stats().messages).toBe(0)
    s.close()
  })
})

describe('Telegram export: less common shapes', () => {
  const chat = (type: string, messages: unknown[]): unknown => ({ name: 'X', type, id: 7, messages })
  const base = { type: 'message', date_unixtime: '1700000000', from: 'P', from_id: 'user7', text: '' }

  it('a date without date_unixtime is read in the given zone; a message without id gets a stable one, without date the time before', async () => {
    const messages = [{ ...base, id: 1, date_unixtime: undefined, date: '2023-12-31T21:00:00', text: 'old' }, { ...base, id: undefined, text: 'x' }, { ...base, id: 3, date_unixtime: undefined, text: 'y' }]
    const h = await map(chat('private_group', messages))
    expect(h.messages.map(m => m.ts)).toEqual([Date.UTC(2023, 11, 31, 21), 1700000000000, 1700000000000])
    expect(h.messages[1].id).toMatch(/^x[0-9a-f]{16}$/)
    expect((await map(chat('private_group', messages))).messages[1].id).toBe(h.messages[1].id)
    expect(h.unmapped).toEqual({ 'message without an id (an id was made from its content)': 1, 'message without a date (time of the message before used)': 1 })
    const rome = await mapTelegram(chat('private_group', messages.slice(0, 1)), new FolderSource(DIR), 'result.json', { timeZone: 'Europe/Rome' })
    expect(rome.messages[0].ts).toBe(Date.UTC(2023, 11, 31, 20))
  })

  it('what the model has no place for is counted in the summary, the messages kept: reactions, bot buttons, signatures, event details', async () => {
    const h = await map(chat('private_supergroup', [
      { ...base, id: 1, text: 'Lunch?', reactions: [{ type: 'emoji', count: 3, emoji: '👍', recent: [{ from: 'Q', from_id: 'user8', date: '2023-11-14T22:14:00' }] }, { type: 'custom_emoji', count: 1, document_id: 'stickers/1.webp' }] },
      { ...base, id: 2, text: 'Pick a day', via_bot: 'pollbot', inline_bot_buttons: [[{ type: 'callback', text: 'Monday', data: 'mon' }]] },
      { ...base, id: 3, text: 'News from the board', author: 'Ann (editor)' },
      { id: 4, type: 'service', date_unixtime: '1700000060', actor: 'P', actor_id: 'user7', action: 'edit_group_photo', photo: 'photos/photo_9.jpg', width: 640, height: 640, text: '' },
      { id: 5, type: 'service', date_unixtime: '1700000120', actor: 'P', actor_id: 'user7', action: 'phone_call', discard_reason: 'missed', text: '' },
      { id: 6, type: 'service', date_unixtime: '1700000180', actor: 'P', actor_id: 'user7', action: 'set_chat_theme', emoticon: '🌊', text: '' },
      'not a message'
    ]))
    expect(h.messages.map(m => [m.id, m.kind, m.text])).toEqual([
      ['1', 'text', 'Lunch?'],
      ['2', 'text', 'Pick a day'],
      ['3', 'text', 'News from the board'],
      ['4', 'system', 'P updated the group photo'],
      ['5', 'system', 'Missed call'],
      ['6', 'system', 'P set chat theme']
    ])
    expect(h.unmapped).toEqual({
      'reaction (dropped: Ferry keeps no reactions; the message kept)': 4,
      'buttons under a bot\'s message (dropped; the message kept)': 1,
      'signature of a channel post (dropped; the post kept)': 1,
      'photo of a group photo change (dropped; the change kept as an event)': 1,
      'detail "emoticon" of an event (dropped; the event kept as a system message)': 1,
      'entry of a chat\'s messages that is no message (skipped)': 1
    })
  })

  it('messages without a date before the first with one take its time, never 1970', async () => {
    const h = await map(chat('private_group', [{ ...base, id: 1, date_unixtime: undefined, text: 'a' }, { ...base, id: 2, text: 'b' }]))
    expect(h.messages.map(m => m.ts)).toEqual([1700000000000, 1700000000000])
    expect(h.unmapped).toEqual({ 'message without a date before the first with one (time of that one used)': 1 })
    await expect(map(chat('private_group', [{ ...base, id: 1, date_unixtime: undefined, text: 'a' }]))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/no message of chat "X" has a date/) })
  })

  it('an impossible date is read as none, never rolled over into another date, and is counted', async () => {
    const wall = { ...base, date_unixtime: undefined }
    const h = await map(chat('private_group', [
      { ...wall, id: 1, date: '2024-13-01T10:00:00', text: 'month 13, first' },
      { ...wall, id: 2, date: '2024-02-01T10:00:00', text: 'real' },
      { ...wall, id: 3, date: '2023-02-29T10:00:00', text: '29 February of a common year' },
      { ...wall, id: 4, date: '2024-02-01T24:30:00', text: 'hour 24' },
      { ...wall, id: 5, date: '2024-02-30T10:00:00Z', text: '30 February, with a zone' },
      { ...wall, id: 6, date: '0070-01-05T10:00:00', text: 'year 70 is not 1970' },
      { ...wall, id: 7, date: '2024-02-29T11:00:00', text: 'leap day' }
    ]))
    const feb1 = Date.UTC(2024, 1, 1, 10)
    expect(h.messages.map(m => m.ts)).toEqual([feb1, feb1, feb1, feb1, feb1, feb1, Date.UTC(2024, 1, 29, 11)])
    expect(h.unmapped).toEqual({
      'message with an impossible date before the first dated one (time of that one used)': 1,
      'message with an impossible date (read as none: time of the message before used)': 4
    })
  })

  it('a date_unixtime that is no time (not a number, negative, past year 9999) gives way to the date, else to a neighbour', async () => {
    const h = await map(chat('private_group', [
      { ...base, id: 1, text: 'good' },
      { ...base, id: 2, date_unixtime: 'soon', date: '2024-02-01T10:00:00', text: 'words' },
      { ...base, id: 3, date_unixtime: '-86400', text: 'negative, no date' },
      { ...base, id: 4, date_unixtime: '99999999999999', text: 'far future, no date' },
      { ...base, id: 5, date_unixtime: '1e9', text: 'exponent' },
      { ...base, id: 6, date_unixtime: '253402300799', text: 'the last second of 9999' }
    ]))
    expect(h.messages.map(m => m.ts)).toEqual([1700000000000, Date.UTC(2024, 1, 1, 10), Date.UTC(2024, 1, 1, 10), Date.UTC(2024, 1, 1, 10), Date.UTC(2024, 1, 1, 10), 253402300799000])
    expect(h.unmapped).toEqual({
      'date_unixtime that is no real time (its wall-clock date used)': 1,
      'message with an impossible date (read as none: time of the message before used)': 3
    })
  })

  it('an impossible edit date is dropped and counted; a chat whose every date is impossible is refused, naming one', async () => {
    const h = await map(chat('private_group', [{ ...base, id: 1, text: 'a', edited: '2023-11-31T10:00:00' }, { ...base, id: 2, text: 'b', edited_unixtime: '-1' }]))
    expect(h.messages.map(m => m.editedAt)).toEqual([undefined, undefined])
    expect(h.unmapped).toEqual({ 'impossible edit date (dropped; the message kept)': 2 })
    await expect(map(chat('private_group', [{ ...base, id: 1, date_unixtime: undefined, date: '2024-13-01T10:00:00', text: 'a' }])))
      .rejects.toMatchObject({ code: 'BAD_INPUT', message: 'no message of chat "X" has a date (1 impossible, such as "2024-13-01T10:00:00"): nothing to place them in time by' })
  })

  it('video_message -> video, live location -> location with its period, an impossible location reported', async () => {
    const h = await map(chat('private_supergroup', [
      { ...base, id: 1, file: '(File not included. Change data exporting settings to download.)', media_type: 'video_message', duration_seconds: 5 },
      { ...base, id: 2, location_information: { latitude: 1, longitude: 2 }, live_location_period_seconds: 900 },
      { ...base, id: 3, location_information: { latitude: 100, longitude: 2 }, text: 'where?' }
    ]))
    expect(h.messages.map(m => [m.kind, m.durationMs, m.location, m.text])).toEqual([
      ['video', 5000, undefined, undefined], ['location', 900000, { lat: 1, lon: 2 }, undefined], ['text', undefined, undefined, 'where?']
    ])
    expect(h.unmapped).toEqual({ 'media not included in the export (message kept without it)': 1, 'invalid location (kept as text)': 1 })
    expect(h.conversations[0]).toMatchObject({ kind: 'group', members: ['user7'] })
  })

  it('saved messages: a direct chat with oneself; channel posts keep the channel as sender', async () => {
    const saved = await map({ name: null, type: 'saved_messages', id: 9, messages: [{ ...base, id: 1, from_id: 'user1', text: 'note to self' }] })
    expect(saved.conversations).toEqual([{ id: 'tg9', kind: 'direct', title: 'Saved Messages', members: ['me'] }])
    expect(saved.messages[0].sender).toBe('me')
    const channel = await map(chat('public_channel', [{ ...base, id: 1, from: 'News', from_id: 'channel7', text: 'headline' }]))
    expect(channel.contacts).toEqual([{ id: 'channel7', name: 'News' }])
    expect(channel.conversations[0]).toMatchObject({ kind: 'group', members: ['channel7'] })
  })

  it('media paths that leave the export folder are not read', async () => {
    const h = await map(chat('private_group', [{ ...base, id: 1, photo: '../../../package.json' }]))
    expect(h.messages[0]).toMatchObject({ kind: 'image' })
    expect(h.messages[0].media).toBeUndefined()
    expect(h.unmapped).toEqual({ 'media path outside the export (not read)': 1 })
  })
})
