import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer, verifiedTransfer, type RunOptions, type RunResult } from '../helpers/transfer.js'
import { NAME_BASES } from '../../src/journal/name-bases.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Contact, Conversation } from '../../src/store/model.js'
import type { ferry } from '../../src/wire/codec.js'

// A chat or a contact the new phone's owner renamed must keep that name through every later transfer
// from the same old phone, unless the old phone renamed it too; what the old phone renamed arrives.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

interface Phones { source: SqliteChatStore, target: SqliteChatStore }

/** An old phone, and a new phone that verified a first transfer of its whole history. */
async function afterFirstTransfer (): Promise<Phones> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 40, mediaSizes: [10_000] })
  const target = openStore()
  await verified(source, target)
  return { source, target }
}

async function verified (source: SqliteChatStore, target: SqliteChatStore, opts: RunOptions = {}): Promise<RunResult> {
  return await verifiedTransfer(source, target, { options: OPTIONS, ...opts })
}

const chat = (store: SqliteChatStore, id: string): Conversation => store.listConversations().find(c => c.id === id) as Conversation
const contact = (store: SqliteChatStore, id: string): Contact => store.listContacts().find(c => c.id === id) as Contact

/** What a person does on a phone: renames chats, renames contacts or changes their numbers. */
function change (store: SqliteChatStore, chats: Record<string, Partial<Conversation>>, contacts: Record<string, Partial<Contact>> = {}): void {
  store.putMetadata(
    Object.entries(contacts).map(([id, c]) => ({ ...contact(store, id), ...c })),
    Object.entries(chats).map(([id, c]) => ({ ...chat(store, id), ...c })),
    [])
}

let added = 0
/** The old phone goes on being used: a message more in c0 and in c2. */
function writeOnOldPhone (source: SqliteChatStore): string[] {
  const ids = [`later-${++added}`, `later-${++added}`]
  source.putMessages([
    { conversation: 'c0', id: ids[0], sender: 'u1', ts: 1_900_000_000_000 + added, kind: 'text', text: 'written on the old phone since' },
    { conversation: 'c2', id: ids[1], sender: 'me', ts: 1_900_000_000_000 + added, kind: 'text', text: 'written on the old phone since' }
  ])
  return ids
}

const has = (store: SqliteChatStore, conversation: string, id: string): boolean => [...store.listMessages({ conversations: [conversation] })].some(m => m.id === id)

async function bases (target: SqliteChatStore): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = []
  for await (const [k, v] of journalOf(target).list(NAME_BASES)) out.push([k, Buffer.from(v).toString('hex')])
  return out
}

describe('a second transfer into a phone whose owner renamed chats and contacts', () => {
  it('keeps the names the new phone changed, brings the old phone\'s messages, and verifies', async () => {
    const { source, target } = await afterFirstTransfer()
    change(target, { c0: { title: 'Family' } }, { u1: { name: 'Mum' } })
    const ids = writeOnOldPhone(source)

    const second = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Family')
    expect(contact(target, 'u1').name).toBe('Mum')
    expect(second.receiver.progress.namesKept).toBe(2)
    // What the old phone wrote since is here, and the rest of its names as it has them.
    expect(has(target, 'c0', ids[0]) && has(target, 'c2', ids[1])).toBe(true)
    expect(second.receiver.progress.messagesReceived).toBe(2)
    expect(chat(target, 'c2')).toEqual(chat(source, 'c2'))
    expect(contact(target, 'u2')).toEqual(contact(source, 'u2'))
    // The summary names the chat as this phone does.
    expect(second.receiver.summary?.find(c => c.id === 'c0')?.title).toBe('Family')
    source.close()
    target.close()
  })

  it('takes the names the old phone changed where the new phone did not, the new phone\'s where only it did', async () => {
    const { source, target } = await afterFirstTransfer()
    change(target, { c0: { title: 'Family' } }, { u2: { phone: '+86 10 9999' } })
    change(source, { c2: { title: 'Renamed there' } }, { u3: { name: 'Maryam' }, u1: { phone: '+1 555 0100' } })
    writeOnOldPhone(source)

    const second = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Family')
    expect(contact(target, 'u2').phone).toBe('+86 10 9999')
    expect(chat(target, 'c2').title).toBe('Renamed there')
    expect(contact(target, 'u3').name).toBe('Maryam')
    expect(contact(target, 'u1').phone).toBe('+1 555 0100')
    expect(second.receiver.progress.namesKept).toBe(2)

    // The old phone renames the chat the new phone kept its name of: that rename came after the new
    // phone's (which the last transfer saw), and arrives.
    change(source, { c0: { title: 'Family (old phone)' } })
    const third = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Family (old phone)')
    expect(third.receiver.progress.namesKept).toBe(1)
    source.close()
    target.close()
  })

  it('renamed on both phones: the old phone\'s name is taken, and the new phone\'s next rename sticks', async () => {
    const { source, target } = await afterFirstTransfer()
    change(target, { c0: { title: 'Renamed here' } }, { u1: { name: 'Renamed here' } })
    change(source, { c0: { title: 'Renamed there' } }, { u1: { name: 'Renamed there' } })

    const second = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Renamed there')
    expect(contact(target, 'u1').name).toBe('Renamed there')
    expect(second.receiver.progress.namesKept).toBe(0)

    // Named again here, the name stays from then on.
    change(target, { c0: { title: 'Renamed here again' } }, { u1: { name: 'Renamed here again' } })
    const third = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Renamed here again')
    expect(contact(target, 'u1').name).toBe('Renamed here again')
    expect(third.receiver.progress.namesKept).toBe(2)
    source.close()
    target.close()
  })

  it('keeps them through every later transfer', async () => {
    const { source, target } = await afterFirstTransfer()
    change(target, { c0: { title: 'Family' } }, { u1: { name: 'Mum' } })
    writeOnOldPhone(source)
    await verified(source, target)
    const after = (await exportText(target)).split('\n')

    for (let i = 0; i < 2; i++) {
      const ids = writeOnOldPhone(source)
      const next = await verified(source, target)
      expect([chat(target, 'c0').title, contact(target, 'u1').name]).toEqual(['Family', 'Mum'])
      expect(next.receiver.progress.namesKept).toBe(2)
      expect(next.receiver.progress.messagesReceived).toBe(2)
      expect(has(target, 'c0', ids[0]) && has(target, 'c2', ids[1])).toBe(true)
    }
    // Every contact and chat as it was after the second transfer.
    const now = (await exportText(target)).split('\n')
    const notMessage = (l: string): boolean => !l.startsWith('{"type":"message"')
    expect(now.filter(notMessage)).toEqual(after.filter(notMessage))
    source.close()
    target.close()
  })

  it('keeps the members of both phones in a group it keeps the name of', async () => {
    const { source, target } = await afterFirstTransfer()
    const group = chat(target, 'c-😀')
    change(target, { 'c-😀': { title: 'Our group', members: [...group.members, 'x'] } })
    target.putMessages([{ conversation: 'c-😀', id: 'from-x', sender: 'x', ts: 1_950_000_000_000, kind: 'text', text: 'x wrote on the new phone' }])
    change(source, { 'c-😀': { members: [...group.members, 'u1'] } })

    await verified(source, target)
    expect(chat(target, 'c-😀')).toEqual({ ...group, title: 'Our group', members: [...group.members, 'u1', 'x'] })
    source.close()
    target.close()
  })

  it('keeps removed a member the new phone removed, and removes one the old phone removed', async () => {
    const { source, target } = await afterFirstTransfer()
    const group = chat(target, 'c-😀')
    expect(group.members).toEqual(['u3', 'me', 'u2'])
    change(target, { 'c-😀': { members: ['me', 'u2'] } })
    change(source, { 'c-😀': { members: ['u3', 'me'] } })
    for (let i = 0; i < 2; i++) {
      await verified(source, target)
      expect(chat(target, 'c-😀')).toEqual({ ...group, members: ['me'] })
    }
    source.close()
    target.close()
  })

  it('from a journal whose bases hold no members: the members of both phones stay once, then removals stick', async () => {
    const { source, target } = await afterFirstTransfer()
    // Bases as a Ferry that kept only titles wrote them.
    const older = []
    for await (const [k, v] of journalOf(target).list(NAME_BASES)) {
      const b = JSON.parse(Buffer.from(v).toString('utf8')) as Record<string, unknown>
      delete b.members
      older.push({ key: k, value: new TextEncoder().encode(JSON.stringify(b)) })
    }
    await journalOf(target).write(older)
    change(target, { 'c-😀': { members: ['me', 'u2'] } })
    await verified(source, target)
    expect(chat(target, 'c-😀').members).toEqual(['u3', 'me', 'u2'])

    change(target, { 'c-😀': { members: ['me', 'u2'] } })
    await verified(source, target)
    expect(chat(target, 'c-😀').members).toEqual(['me', 'u2'])
    source.close()
    target.close()
  })

  it('cut and resumed, decides the same and verifies', async () => {
    const { source, target } = await afterFirstTransfer()
    change(target, { c0: { title: 'Family' } })
    change(source, { c2: { title: 'Renamed there' } })
    const ids = writeOnOldPhone(source)
    let seen = 0
    const cut = await runTransfer(source, target, { options: OPTIONS, onReceived: f => { if (f.body === 'batch' && ++seen === 1) throw new Error('killed') } })
    expect(cut.receiver.state).not.toBe('verified')

    const resumed = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Family')
    expect(chat(target, 'c2').title).toBe('Renamed there')
    expect(resumed.receiver.progress.namesKept).toBe(1)
    expect(has(target, 'c0', ids[0]) && has(target, 'c2', ids[1])).toBe(true)
    const third = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Family')
    expect(third.receiver.progress.namesKept).toBe(1)
    source.close()
    target.close()
  })
})

describe('a refused second transfer into a phone whose owner renamed a chat', () => {
  it('takes back the old phone\'s names it wrote, leaves the new phone\'s, and the next transfer decides the same', async () => {
    const { source, target } = await afterFirstTransfer()
    change(target, { c0: { title: 'Family' } })
    change(source, { c2: { title: 'Renamed there' } }, { u3: { name: 'Maryam' } })
    writeOnOldPhone(source)
    const before = await exportText(target)
    const basesBefore = await bases(target)
    expect(basesBefore.length).toBeGreaterThan(0)

    const lie: NonNullable<RunOptions['tamper']> = f => f.body === 'done'
      ? [{ done: { ...(f.done as ferry.Done), conversations: (f.done as ferry.Done).conversations.map(c => ({ ...c, digest: new Uint8Array(32) })) } }]
      : [f]
    const bad = await runTransfer(source, target, { options: OPTIONS, tamper: lie })
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(await exportText(target)).toBe(before)
    expect(await bases(target)).toEqual(basesBefore)

    await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Family')
    expect(chat(target, 'c2').title).toBe('Renamed there')
    expect(contact(target, 'u3').name).toBe('Maryam')
    source.close()
    target.close()
  })
})

describe('a transfer without a base', () => {
  it('first into a phone holding chats and contacts of its own: this phone\'s names stay, a number only the old phone has arrives', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: 40, mediaSizes: [10_000] })
    const target = openStore()
    target.putMetadata([{ id: 'u1', name: 'Alicia', phone: '+33 6 12 34 56 78' }, { id: 'u2', name: 'Li Lei' }],
      [{ id: 'c0', kind: 'direct', title: 'Mine', members: ['u1', 'me'] }], [])
    const first = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Mine')
    expect(contact(target, 'u1')).toEqual({ id: 'u1', name: 'Alicia', phone: '+33 6 12 34 56 78' })
    expect(contact(target, 'u2')).toEqual({ id: 'u2', name: 'Li Lei', phone: '+86 10 1234' })
    expect(first.receiver.progress.namesKept).toBe(3)
    expect(first.receiver.summary?.find(c => c.id === 'c0')?.title).toBe('Mine')

    // The base is the old phone's names: a rename there since arrives, the names here otherwise stay.
    change(source, { c2: { title: 'Renamed there' } })
    const second = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Mine')
    expect(chat(target, 'c2').title).toBe('Renamed there')
    expect(second.receiver.progress.namesKept).toBe(3)
    change(source, { c0: { title: 'Renamed there too' } })
    await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Renamed there too')
    source.close()
    target.close()
  })

  it('from a journal kept before bases were: the new phone\'s names stay', async () => {
    const { source, target } = await afterFirstTransfer()
    await journalOf(target).write([{ prefix: NAME_BASES }])
    change(target, { c0: { title: 'Family' } })
    const second = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Family')
    expect(second.receiver.progress.namesKept).toBe(1)

    const third = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Family')
    expect(third.receiver.progress.namesKept).toBe(1)
    source.close()
    target.close()
  })

  it('from another old phone with chats of the same ids: the names set here stay, then and at the first phone\'s next transfer', async () => {
    const { source, target } = await afterFirstTransfer()
    change(target, { c0: { title: 'Family' } }, { u1: { name: 'Mum' } })
    // Another phone with chats and contacts of the same ids, named otherwise.
    const other = openStore()
    await fillStore(other, { conversations: 3, messagesPerConversation: 40, mediaSizes: [10_000] })
    change(other, { c0: { title: 'Other c0' }, c2: { title: 'Other c2' } }, { u1: { name: 'Other u1' }, u3: { name: 'Other u3' } })
    const fromOther = await verified(other, target)
    expect(chat(target, 'c0').title).toBe('Family')
    expect(chat(target, 'c2').title).toBe('Chat 2')
    expect(contact(target, 'u1').name).toBe('Mum')
    expect(contact(target, 'u3').name).toBe('مريم')
    expect(fromOther.receiver.progress.namesKept).toBe(4)

    // The first phone's bases still say the person renamed c0 and u1 here, and nothing else changed.
    const again = await verified(source, target)
    expect(chat(target, 'c0').title).toBe('Family')
    expect(chat(target, 'c2').title).toBe('Chat 2')
    expect(contact(target, 'u1').name).toBe('Mum')
    expect(again.receiver.progress.namesKept).toBe(2)

    // A rename on the other phone since its transfer arrives.
    change(other, { c2: { title: 'Renamed on the other phone' } })
    await verified(other, target)
    expect(chat(target, 'c2').title).toBe('Renamed on the other phone')
    source.close()
    other.close()
    target.close()
  })
})
