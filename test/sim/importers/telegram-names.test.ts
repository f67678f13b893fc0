import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FolderSource } from '../../../src/sim/importers/source.js'
import { importTelegram } from '../../../src/sim/importers/telegram.js'
import type { SqliteChatStore } from '../../../src/store/sqlite-store.js'
import { cleanupTempDirs, openStore, tempDir } from '../../helpers/stores.js'

// Names across two exports of one Telegram group. An export is a snapshot: the older one, imported
// after the newer (a backup found later), must not take the group's title or its people's names back,
// and a name changed in the store since an import must not be undone by importing that export again.

afterEach(() => cleanupTempDirs())

const PEOPLE: Record<string, string> = { Dave: 'user4000', 'Dave Brown': 'user4000', Eve: 'user1000' }
const at = (minute: number): Record<string, string> => ({ date: `2024-03-01T10:0${minute}:00`, date_unixtime: String(1709287200 + minute * 60) })
const text = (id: number, minute: number, from: string, body: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ id, type: 'message', ...at(minute), from, from_id: PEOPLE[from], text: body, ...extra })

function exportOf (name: string, messages: Array<Record<string, unknown>>, withPhoto: boolean): string {
  const dir = tempDir()
  if (withPhoto) {
    mkdirSync(join(dir, 'photos'))
    writeFileSync(join(dir, 'photos', 'photo_1.jpg'), 'pretend JPEG: the ferry')
  }
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ name, type: 'private_group', id: 7000, messages }))
  return dir
}

// March, with its photo.
const march = (): string => exportOf('Ferry crew', [
  text(1, 0, 'Dave', 'Ferry at 10?'),
  text(2, 1, 'Eve', 'Yes'),
  text(3, 2, 'Dave', '', { photo: 'photos/photo_1.jpg', width: 1, height: 1 }),
  text(4, 3, 'Eve', 'See you at the pier')
], true)
// April: capped at its latest messages (it holds fewer than March's) and without media. Eve renamed
// the group since, which the export shows as a message, and Dave renamed himself, which it does not.
const april = (): string => exportOf('Harbour crew', [
  text(3, 2, 'Dave Brown', '', { photo: '(File not included. Change data exporting settings to download.)', width: 1, height: 1 }),
  text(4, 3, 'Eve', 'See you at the pier'),
  { id: 5, type: 'service', ...at(4), actor: 'Eve', actor_id: 'user1000', action: 'edit_group_title', title: 'Harbour crew', text: '' },
  text(6, 5, 'Dave Brown', 'New name, same me')
], false)

async function importInto (s: SqliteChatStore, dir: string): Promise<void> {
  await importTelegram(s, new FolderSource(dir), 'result.json', { timeZone: 'UTC' })
}

const names = (s: SqliteChatStore): Record<string, string> => Object.fromEntries([
  ...s.listConversations().map(c => [c.id, c.title]),
  ...s.listContacts().map(c => [c.id, c.name])
])

describe('names across two Telegram exports of one group', () => {
  it.each([
    ['the newer, then the older', [april, march]],
    ['the older, then the newer', [march, april]]
  ])('%s: the newer export\'s title and names stand', async (_, exports) => {
    const s = openStore()
    for (const e of exports) await importInto(s, e())
    expect(names(s)).toEqual({ tg7000: 'Harbour crew', user4000: 'Dave Brown', user1000: 'Eve' })
    expect(s.messageCounts().get('tg7000')).toBe(6)
    s.close()
  })

  it('a name changed in the store stays when the same export comes again; a newer one that changed it too is taken', async () => {
    const s = openStore()
    await importInto(s, march())
    // The app (or the person) renames the group and Eve in the store.
    s.putMetadata([{ id: 'user1000', name: 'Eve (work)' }], [{ ...s.listConversations()[0], title: 'Ferry crew 🚢' }], [])
    await importInto(s, march())
    expect(names(s)).toEqual({ tg7000: 'Ferry crew 🚢', user4000: 'Dave', user1000: 'Eve (work)' })
    // April renamed the group and Dave, not Eve.
    await importInto(s, april())
    expect(names(s)).toEqual({ tg7000: 'Harbour crew', user4000: 'Dave Brown', user1000: 'Eve (work)' })
    s.close()
  })
})
