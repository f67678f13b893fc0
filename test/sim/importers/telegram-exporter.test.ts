import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FolderSource } from '../../../src/sim/importers/source.js'
import { importTelegram, mapTelegram } from '../../../src/sim/importers/telegram.js'
import type { MappedHistory } from '../../../src/sim/importers/common.js'
import type { SqliteChatStore } from '../../../src/store/sqlite-store.js'
import { cleanupTempDirs, openStore, tempDir } from '../../helpers/stores.js'

// Who the exporter is, and who a group's members are, in a Telegram export. A full export without
// personal_information names the exporter nowhere: the personal chats say it (whoever writes there
// besides the peer), and it must be "me" in every chat, never a contact of its own. A group's members
// are also those its events name (by display name only), not just those who wrote.

afterEach(() => cleanupTempDirs())

type Msg = Record<string, unknown>
const at = (minute: number): Msg => ({ date: `2024-03-12T21:${String(minute).padStart(2, '0')}:00`, date_unixtime: String(1710277200 + minute * 60) })
const said = (id: number, minute: number, from: string, fromId: string, text: string): Msg => ({ id, type: 'message', ...at(minute), from, from_id: fromId, text })
const event = (id: number, minute: number, actor: string, actorId: string, action: string, extra: Msg = {}): Msg =>
  ({ id, type: 'service', ...at(minute), actor, actor_id: actorId, action, text: '', ...extra })

/** Rosa (user1) exported: a personal chat with Tomas (user11), one with Ines (user12), and a group. */
function fullExport (withInfo: boolean): Msg {
  return {
    ...(withInfo ? { personal_information: { user_id: 1, first_name: 'Rosa', last_name: '', phone_number: '+34 600 000 001' } } : {}),
    chats: {
      list: [
        { name: 'Tomas', type: 'personal_chat', id: 11, messages: [said(1, 0, 'Tomas', 'user11', 'Ferry at ten?'), said(2, 1, 'Rosa', 'user1', 'Yes')] },
        { name: 'Ines', type: 'personal_chat', id: 12, messages: [said(1, 2, 'Ines', 'user12', 'Pier 3'), event(2, 3, 'Rosa', 'user1', 'phone_call', { duration_seconds: 30 })] },
        {
          name: 'Harbour',
          type: 'private_group',
          id: 20,
          messages: [
            event(1, 4, 'Rosa', 'user1', 'create_group', { title: 'Harbour', members: ['Rosa', 'Tomas', 'Marta'] }),
            said(2, 5, 'Tomas', 'user11', 'Hello all'),
            event(3, 6, 'Tomas', 'user11', 'pin_message', { message_id: 2 })
          ]
        }
      ]
    }
  }
}

async function mapped (root: Msg): Promise<MappedHistory> {
  return await mapTelegram(root, new FolderSource(tempDir()), 'result.json', { timeZone: 'UTC' })
}

function exportDir (root: Msg): string {
  const dir = tempDir()
  writeFileSync(join(dir, 'result.json'), JSON.stringify(root))
  return dir
}

async function importInto (s: SqliteChatStore, root: Msg): Promise<void> {
  await importTelegram(s, new FolderSource(exportDir(root)), 'result.json', { timeZone: 'UTC' })
}

describe('the exporter of a Telegram export without personal_information', () => {
  it('is "me" in the personal chats and in the group, and no contact of its own', async () => {
    const h = await mapped(fullExport(false))
    expect(h.messages.filter(m => m.sender === 'me').map(m => `${m.conversation}/${m.id}`)).toEqual(['tg11/2', 'tg12/2', 'tg20/1'])
    expect(h.contacts.map(c => c.id)).not.toContain('user1')
    expect(h.conversations.find(c => c.id === 'tg20')?.members[0]).toBe('me')
  })

  it('lands on the same person as an export with personal_information, whichever comes first: nothing twice', async () => {
    for (const order of [[false, true], [true, false]]) {
      const s = openStore()
      for (const withInfo of order) await importInto(s, fullExport(withInfo))
      const messages = [...s.listMessages()]
      expect(messages).toHaveLength(7)
      expect(messages.filter(m => m.sender === 'me').map(m => `${m.conversation}/${m.id}`)).toEqual(['tg11/2', 'tg12/2', 'tg20/1'])
      expect(s.listContacts().map(c => c.id).sort()).toEqual(['tg:Marta', 'user11', 'user12'])
      s.close()
    }
  })

  it('a personal chat where only the peer wrote leaves the exporter to the others; a group-only export names nobody "me"', async () => {
    const root = fullExport(false)
    const chats = (root.chats as { list: Msg[] }).list
    chats.unshift({ name: 'Quiet', type: 'personal_chat', id: 13, messages: [said(1, 0, 'Quiet', 'user13', 'Anyone?')] })
    expect((await mapped(root)).messages.filter(m => m.sender === 'me')).toHaveLength(3)

    const groupOnly = await mapped({ chats: { list: [chats.at(-1)] } })
    expect(groupOnly.messages.map(m => m.sender)).toEqual(['user1', 'user11', 'user11'])
  })
})

describe('Telegram group members and events', () => {
  it('members are those its events name as well as those who wrote: a name the export knows is that person, another a contact by name', async () => {
    const h = await mapped(fullExport(false))
    expect(h.conversations.find(c => c.id === 'tg20')?.members).toEqual(['me', 'user11', 'tg:Marta'])
    expect(h.contacts).toContainEqual({ id: 'tg:Marta', name: 'Marta' })
  })

  it('events are worded as Telegram words them; an action it does not know stays readable', async () => {
    const h = await mapped({
      name: 'Harbour',
      type: 'private_supergroup',
      id: 30,
      messages: [
        event(1, 0, 'Rosa', 'user1', 'create_group', { title: 'Harbour', members: ['Rosa', 'Tomas'] }),
        event(2, 1, 'Rosa', 'user1', 'invite_members', { members: ['Ines', 'Marta'] }),
        event(3, 2, 'Ines', 'user12', 'pin_message', { message_id: 1 }),
        event(4, 3, 'Marta', 'user14', 'remove_members', { members: ['Marta'] }),
        event(5, 4, 'Rosa', 'user1', 'edit_group_title', { title: 'Pier' }),
        event(6, 5, 'Luis', 'user15', 'join_group_by_link', { inviter: 'Rosa' }),
        event(7, 6, 'Rosa', 'user1', 'set_messages_ttl', { period: 86400 }),
        event(8, 7, 'Rosa', 'user1', 'constructor')
      ]
    })
    expect(h.messages.map(m => m.text)).toEqual([
      'Rosa created group «Harbour»',
      'Rosa added Ines and Marta',
      'Ines pinned a message',
      'Marta left the group',
      'Rosa changed the group name to «Pier»',
      'Luis joined the group via invite link',
      'Rosa set messages ttl',
      'Rosa constructor'
    ])
    // Ines and Marta are named before they act: they are the people of those ids, not contacts by name.
    expect(h.conversations[0].members).toEqual(['user1', 'tg:Tomas', 'user12', 'user14', 'user15'])
  })

  it('a name two people of the export share adds neither, and is counted', async () => {
    const h = await mapped({
      name: 'Harbour',
      type: 'private_group',
      id: 31,
      messages: [
        event(1, 0, 'Rosa', 'user1', 'create_group', { title: 'Harbour', members: ['Rosa', 'Ana'] }),
        said(2, 1, 'Ana', 'user21', 'I am one Ana'),
        said(3, 2, 'Ana', 'user22', 'I am the other')
      ]
    })
    expect(h.conversations[0].members).toEqual(['user1', 'user21', 'user22'])
    expect(h.contacts.map(c => c.id)).not.toContain('tg:Ana')
    expect(h.unmapped).toEqual({ 'member named in an event whom several people of the export share a name with (not added to the members)': 1 })
  })
})
