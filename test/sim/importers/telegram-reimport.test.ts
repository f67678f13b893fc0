import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FolderSource } from '../../../src/sim/importers/source.js'
import { importTelegram } from '../../../src/sim/importers/telegram.js'
import type { SqliteChatStore } from '../../../src/store/sqlite-store.js'
import { cleanupTempDirs, openStore, tempDir } from '../../helpers/stores.js'

// Two Telegram exports of one chat imported into one store. Telegram names each chat and message by
// its own id, which no later export changes: a message deleted since, media left out or an edit must
// not make any message twice, and the older export must not undo the newer.

afterEach(() => cleanupTempDirs())

const PHOTO = Buffer.from('pretend JPEG: the harbour')
const at = (minute: number): Record<string, string> => ({ date: `2024-03-01T10:0${minute}:00`, date_unixtime: String(1709287200 + minute * 60) })
const text = (id: number, minute: number, from: string, body: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ id, type: 'message', ...at(minute), from, from_id: from === 'Dave' ? 'user4000' : 'user1000', text: body, text_entities: [{ type: 'plain', text: body }], ...extra })

/** A single-chat export (result.json and the photo when it holds it) in a folder of its own. */
function exportOf (messages: Array<Record<string, unknown>>, withPhoto: boolean): string {
  const dir = tempDir()
  if (withPhoto) {
    mkdirSync(join(dir, 'photos'))
    writeFileSync(join(dir, 'photos', 'photo_1.jpg'), PHOTO)
  }
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ name: 'Dave', type: 'personal_chat', id: 4000, messages }))
  return dir
}

const photo = (file: string): Record<string, unknown> => ({ photo: file, width: 1, height: 1 })
const march = (): string => exportOf([
  text(1, 0, 'Dave', 'Ferry at 10?'),
  text(2, 1, 'Eve', 'Yes'),
  text(3, 2, 'Dave', '', photo('photos/photo_1.jpg')),
  text(4, 3, 'Eve', 'See you at the pier')
], true)
// Later, without media: message 2 deleted for the exporter, 4 edited, 5 and 6 new.
const april = (): string => exportOf([
  text(1, 0, 'Dave', 'Ferry at 10?'),
  text(3, 2, 'Dave', '', photo('(File not included. Change data exporting settings to download.)')),
  text(4, 3, 'Eve', 'See you at the north pier', { edited: '2024-03-01T10:09:00', edited_unixtime: '1709287740' }),
  text(5, 4, 'Dave', 'Running late'),
  text(6, 5, 'Eve', 'np')
], false)

async function importInto (s: SqliteChatStore, dir: string): Promise<void> {
  await importTelegram(s, new FolderSource(dir), 'result.json', { timeZone: 'UTC' })
}

const shown = (s: SqliteChatStore): Array<[string, string | undefined, string | undefined]> => [...s.listMessages()].map(m => [m.id, m.text, m.media])
const PHOTO_SHA = createHash('sha256').update(PHOTO).digest('hex')

describe('importing two Telegram exports of one chat', () => {
  it('the later export without media adds only what is new, brings the edit, and the photo keeps its file', async () => {
    const s = openStore()
    await importInto(s, march())
    await importInto(s, april())
    expect(s.listConversations().map(c => c.id)).toEqual(['tg4000'])
    expect(shown(s)).toEqual([
      ['1', 'Ferry at 10?', undefined],
      ['2', 'Yes', undefined],
      ['3', undefined, PHOTO_SHA],
      ['4', 'See you at the north pier', undefined],
      ['5', 'Running late', undefined],
      ['6', 'np', undefined]
    ])
    s.close()
  })

  it('the older export after the newer undoes nothing', async () => {
    const s = openStore()
    await importInto(s, april())
    await importInto(s, march())
    expect(shown(s)).toEqual([
      ['1', 'Ferry at 10?', undefined],
      ['2', 'Yes', undefined],
      ['3', undefined, PHOTO_SHA],
      ['4', 'See you at the north pier', undefined],
      ['5', 'Running late', undefined],
      ['6', 'np', undefined]
    ])
    s.close()
  })
})
