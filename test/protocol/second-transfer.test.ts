import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, keystream, mediaFiles, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer, type RunOptions } from '../helpers/transfer.js'
import type { JournalOp } from '../../src/journal/journal.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { MediaRecord, Message, Selection } from '../../src/store/model.js'
import type { ferry } from '../../src/wire/codec.js'

// A second transfer from the same old phone, refused for any reason, must never take back what the
// first one verified: a person who wiped the old phone after "verified" would lose it all.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }
const REQUEST = { conversations: ['c0', 'c2'] }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

interface Phones { source: SqliteChatStore, target: SqliteChatStore, verified: string, files: string[] }

/** An old phone, and a new phone in use (a chat of its own) that verified a first transfer from it. */
async function afterFirstTransfer (request: Selection = REQUEST): Promise<Phones> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 40, mediaSizes: [30_000, 10_000] })
  const target = openStore()
  target.putMetadata([], [{ id: 'own', kind: 'direct', title: 'Mine', members: ['me', 'x'] }], [])
  target.putMessages([{ conversation: 'own', id: 'o1', sender: 'me', ts: 1, kind: 'text', text: 'written on the new phone' }])
  const first = await runTransfer(source, target, { options: OPTIONS, request })
  expect(first.receiver.state).toBe('verified')
  expect(target.stats().mediaMissing).toBe(0)
  return { source, target, verified: await exportText(target), files: mediaFiles(target) }
}

/** The old phone goes on being used: a message added, one edited, a new photo with its message. */
async function useOldPhone (source: SqliteChatStore): Promise<void> {
  const { sha256 } = await source.writeMedia(keystream('new photo', 40_000))
  source.putMetadata([], [], [{ sha256, size: 40_000, mime: 'image/jpeg' }])
  const c0 = [...source.listMessages({ conversations: ['c0'] })]
  const edited: Message = { ...c0[4], kind: 'text', text: 'edited on the old phone' }
  delete edited.media
  source.putMessages([
    edited,
    { conversation: 'c0', id: 'added', sender: 'u1', ts: c0[10].ts + 1, kind: 'text', text: 'added in the middle' },
    { conversation: 'c2', id: 'photo', sender: 'me', ts: 1_900_000_000_000, kind: 'image', media: sha256 }
  ])
}

/**
 * The store holds exactly what it verified, and its own chats: the same contacts, conversations,
 * messages and media records, and the same media files, none missing.
 */
async function expectIntact (store: SqliteChatStore, { verified, files }: Pick<Phones, 'verified' | 'files'>): Promise<void> {
  expect(await exportText(store)).toBe(verified)
  expect(mediaFiles(store)).toEqual(files)
  expect(store.stats().mediaMissing).toBe(0)
}

type Tamper = NonNullable<RunOptions['tamper']>
const onDone = (fn: (d: ferry.Done) => ferry.Done.$Properties): Tamper => f => f.body === 'done' ? [{ done: fn(f.done as ferry.Done) }] : [f]

const LIES: Array<{ name: string, code: string, tamper: Tamper }> = [
  { name: 'a count in Done', code: 'COUNT_MISMATCH', tamper: onDone(d => ({ ...d, conversations: d.conversations.map(c => ({ ...c, count: Number(c.count) + 1 })) })) },
  { name: 'a digest in Done', code: 'DIGEST_MISMATCH', tamper: onDone(d => ({ ...d, conversations: d.conversations.map(c => ({ ...c, digest: new Uint8Array(32) })) })) },
  {
    name: 'altered message content',
    code: 'DIGEST_MISMATCH',
    tamper: f => f.body === 'batch' ? [{ batch: { messages: (f.batch as ferry.MessageBatch).messages.map(m => ({ ...m, text: 'forged' })) } }] : [f]
  },
  {
    name: 'a message outside the selection',
    code: 'SELECTION',
    tamper: f => f.body === 'batch' ? [{ batch: { messages: (f.batch as ferry.MessageBatch).messages.map(m => ({ ...m, conversation: 'c-😀' })) } }] : [f]
  }
]

describe('a refused second transfer', () => {
  for (const lie of LIES) {
    it(`keeps the first transfer's verified history, media and the phone's own chats, and takes back its own: ${lie.name}`, async () => {
      const phones = await afterFirstTransfer()
      const { source, target } = phones
      await useOldPhone(source)
      const bad = await runTransfer(source, target, { options: OPTIONS, request: REQUEST, tamper: lie.tamper })
      expect(bad.receiverError?.code).toBe(lie.code)
      await expectIntact(target, phones)

      // The honest retry verifies on its first attempt and brings exactly what changed.
      const good = await runTransfer(source, target, { options: OPTIONS, request: REQUEST })
      expect(good.receiverError).toBeUndefined()
      expect(good.receiver.state).toBe('verified')
      const after = await exportText(target)
      expect(after).toContain('edited on the old phone')
      expect(after).toContain('added in the middle')
      expect(after).toContain('"id":"photo"')
      expect(after).toContain('written on the new phone')
      expect(after).not.toContain('forged')
      source.close()
      target.close()
    })
  }

  it('puts back a media record it replaced, and keeps a photo it brought that the person sent on meanwhile', async () => {
    const phones = await afterFirstTransfer()
    const { source, target } = phones
    await useOldPhone(source)
    const photo = [...source.listMedia()].find(m => !phones.verified.includes(m.sha256)) as MediaRecord
    // The old phone now types a file the first transfer brought otherwise: the manifest replaces its record.
    const retyped = [...target.listMedia()][0]
    source.putMetadata([], [], [{ ...retyped, mime: 'image/heic' }])
    const forward: Message = { conversation: 'own', id: 'o2', sender: 'me', ts: 2, kind: 'image', media: photo.sha256 }
    const bad = await runTransfer(source, target, {
      options: OPTIONS,
      request: REQUEST,
      tamper: LIES[1].tamper,
      // Every file is in by Done: the person forwards the new photo in a chat of their own.
      onReceived: f => {
        if (f.body !== 'done') return
        expect(target.hasMediaRecord(photo.sha256) && target.hasMediaFile(photo.sha256)).toBe(true)
        expect([...target.listMedia()].find(m => m.sha256 === retyped.sha256)?.mime).toBe('image/heic')
        target.putMessages([forward])
      }
    })
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    // As verified, but for the forward and the photo it refers to, which stays whole.
    const lines = (s: string): string[] => s.trim().split('\n')
    const now = lines(await exportText(target))
    const added = now.filter(l => !lines(phones.verified).includes(l))
    expect(now.filter(l => !added.includes(l))).toEqual(lines(phones.verified))
    expect(added.map(l => JSON.parse(l) as { type: string, id?: string, sha256?: string }).map(r => r.id ?? r.sha256).sort()).toEqual(['o2', photo.sha256].sort())
    expect(mediaFiles(target)).toEqual([...phones.files, photo.sha256].sort())
    expect(target.stats().mediaMissing).toBe(0)
    source.close()
    target.close()
  })

  it('whose new photo arrives damaged verifies the rest, keeps everything before, and leaves the photo out', async () => {
    const { source, target, verified } = await afterFirstTransfer()
    await useOldPhone(source)
    const damaged = await runTransfer(source, target, {
      options: OPTIONS,
      request: REQUEST,
      tamper: f => {
        if (f.body !== 'chunk') return [f]
        const c = f.chunk as ferry.MediaChunk
        const data = c.data.slice()
        data[0] ^= 1
        return [{ chunk: { index: c.index, offset: c.offset, data } }]
      }
    })
    expect(damaged.receiver.state).toBe('verified')
    expect(damaged.receiver.progress.mediaFilesDamaged).toBe(1)
    const after = await exportText(target)
    expect(after).toContain('edited on the old phone')
    expect(after).toContain('"id":"photo"')
    expect(after).toContain('written on the new phone')
    // Everything the first transfer verified is still there, files included.
    for (const line of verified.split('\n').filter(l => !l.startsWith('{"type":"message"'))) expect(after.split('\n')).toContain(line)
    for (const m of target.listMedia()) if (verified.includes(m.sha256)) expect(target.hasMediaFile(m.sha256)).toBe(true)
    const photo = [...source.listMedia()].find(m => !verified.includes(m.sha256))
    expect(photo).toBeDefined()
    expect(target.hasMediaFile((photo as { sha256: string }).sha256)).toBe(false)
    // The next transfer brings the photo alone.
    const next = await runTransfer(source, target, { options: OPTIONS, request: REQUEST })
    expect(next.receiver.state).toBe('verified')
    expect(next.receiver.progress.mediaFilesReceived).toBe(1)
    expect(next.receiver.progress.messagesReceived).toBe(0)
    expect(target.hasMediaFile((photo as { sha256: string }).sha256)).toBe(true)
    source.close()
    target.close()
  })

  for (const when of ['before it records the refusal', 'in the middle of its undo']) {
    it(`loses nothing when the receiver dies ${when}: the next session verifies at once`, async () => {
      const { source, target, verified } = await afterFirstTransfer()
      await useOldPhone(source)
      const journal = journalOf(target)
      // The process dies while refusing: the store and the journal are left as the kill left them.
      const write = journal.write.bind(journal)
      let refusing = false
      const marksRefusal = (ops: JournalOp[]): boolean => ops.some(o => 'value' in o && o.value !== undefined && new TextDecoder().decode(o.value).includes('"state":"refused"'))
      journal.write = async ops => {
        if (refusing || (when === 'before it records the refusal' && marksRefusal(ops))) throw new Error('killed')
        await write(ops)
        if (marksRefusal(ops)) refusing = true
      }
      const bad = await runTransfer(source, target, { options: OPTIONS, request: REQUEST, tamper: LIES[2].tamper })
      expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
      await closeJournals()
      target.close()

      const reopened = SqliteChatStore.open(target.dir)
      const good = await runTransfer(source, reopened, { options: OPTIONS, request: REQUEST })
      expect(good.receiverError).toBeUndefined()
      expect(good.receiver.state).toBe('verified')
      const after = await exportText(reopened)
      expect(after).not.toContain('forged')
      expect(after).toContain('written on the new phone')
      // What the old phone holds of the selection is all here, as it holds it now, and the rest as verified.
      const now = (await exportText(source)).split('\n').filter(l => l.includes('"type":"message"') && (l.includes('"conversation":"c0"') || l.includes('"conversation":"c2"')))
      expect(now.length).toBeGreaterThan(80)
      for (const line of now) expect(after).toContain(line)
      for (const line of verified.split('\n').filter(l => l.includes('"type":"message"') && !l.includes('"id":"m4"'))) expect(after).toContain(line)
      // Every file of the selection is here, the new photo too: the undo finished before the files were counted.
      const photo = [...source.listMedia()].find(m => !verified.includes(m.sha256)) as MediaRecord
      expect(reopened.hasMediaFile(photo.sha256)).toBe(true)
      expect(reopened.stats().mediaMissing).toBe(0)
      source.close()
      reopened.close()
    })
  }

  it('keeps it whatever the selection: a second transfer of the whole history refused by a lie', async () => {
    const phones = await afterFirstTransfer({})
    const { source, target } = phones
    await useOldPhone(source)
    const bad = await runTransfer(source, target, { options: OPTIONS, tamper: LIES[0].tamper })
    expect(bad.receiverError?.code).toBe('COUNT_MISMATCH')
    await expectIntact(target, phones)
    const good = await runTransfer(source, target, { options: OPTIONS })
    expect(good.receiver.state).toBe('verified')
    source.close()
    target.close()
  })
})

describe('a second transfer into a phone in use', () => {
  it('keeps what only the new phone knows of a contact or a chat: a phone number, the members it added', async () => {
    const { source, target } = await afterFirstTransfer({})
    // On the new phone: a number for a contact the old phone has none for, a member added to a group
    // (who wrote there), and the group renamed.
    const group = target.listConversations().find(c => c.id === 'c-😀') as { id: string, kind: 'group', title: string, members: string[] }
    expect(group.members).not.toContain('x')
    target.putMetadata([{ id: 'x', name: 'Xavier' }, { id: 'u3', name: 'مريم', phone: '+33 1 23 45 67 89' }], [{ ...group, title: 'Renamed here', members: [...group.members, 'x'] }], [])
    target.putMessages([{ conversation: 'c-😀', id: 'from-x', sender: 'x', ts: 1_950_000_000_000, kind: 'text', text: 'added on the new phone' }])
    await useOldPhone(source)
    const second = await runTransfer(source, target, { options: OPTIONS })
    expect(second.receiver.state).toBe('verified')
    const after = target.listConversations().find(c => c.id === 'c-😀') as { title: string, members: string[] }
    // Renamed here and not on the old phone since the first transfer: this phone's title stays
    // (own-names.ts); the members of both stay.
    expect(after.title).toBe('Renamed here')
    expect(after.members).toEqual([...group.members, 'x'])
    expect(target.listContacts().find(c => c.id === 'u3')?.phone).toBe('+33 1 23 45 67 89')
    expect(await exportText(target)).toContain('added on the new phone')
    source.close()
    target.close()
  })
})

describe('a second transfer into a phone that changed messages it moved', () => {
  /** The messages of c0 by id, as the store holds them. */
  const byId = (store: SqliteChatStore): Map<string, Message> => new Map([...store.listMessages({ conversations: ['c0'] })].map(m => [m.id, m]))

  /**
   * After a first transfer, both phones change messages of c0: the new phone recalls one and edits
   * three, the old phone edits two of those three (one later than the new phone, one earlier) and
   * recalls one the new phone edited. Returns the ids, in that order.
   */
  async function changeBoth ({ source, target }: Phones): Promise<{ recalledHere: string, editedHere: string, editedLaterThere: string, editedEarlierThere: string, recalledThere: string }> {
    const c0 = [...target.listMessages({ conversations: ['c0'] })].filter(m => m.status !== 'recalled')
    const [a, b, c, d, e] = [c0[3], c0[5], c0[7], c0[9], c0[11]]
    const here = 1_800_000_000_000
    const text = (m: Message, t: string, editedAt: number): Message => {
      const out: Message = { ...m, kind: 'text', text: t, editedAt }
      delete out.media
      return out
    }
    target.putMessages([
      { conversation: a.conversation, id: a.id, sender: a.sender, ts: a.ts, kind: 'text', status: 'recalled' },
      text(b, 'edited on the new phone', here),
      text(c, 'edited on the new phone, then on the old one', here),
      text(d, 'edited on the new phone after the old one', here),
      text(e, 'edited on the new phone, recalled on the old one', here)
    ])
    source.putMessages([
      text(c, 'the old phone edited it last', here + 60_000),
      text(d, 'the old phone edited it first', here - 60_000),
      { conversation: e.conversation, id: e.id, sender: e.sender, ts: e.ts, kind: 'text', status: 'recalled' }
    ])
    await useOldPhone(source)
    return { recalledHere: a.id, editedHere: b.id, editedLaterThere: c.id, editedEarlierThere: d.id, recalledThere: e.id }
  }

  it('keeps a recall and a later edit made on the new phone, takes the old phone\'s later ones, and verifies', async () => {
    const phones = await afterFirstTransfer({})
    const { source, target } = phones
    const ids = await changeBoth(phones)
    const second = await runTransfer(source, target, { options: OPTIONS })
    expect(second.receiverError).toBeUndefined()
    expect(second.receiver.state).toBe('verified')
    const now = byId(target)
    expect(now.get(ids.recalledHere)?.status).toBe('recalled')
    expect(now.get(ids.editedHere)?.text).toBe('edited on the new phone')
    expect(now.get(ids.editedEarlierThere)?.text).toBe('edited on the new phone after the old one')
    expect(now.get(ids.editedLaterThere)?.text).toBe('the old phone edited it last')
    expect(now.get(ids.recalledThere)?.status).toBe('recalled')
    expect(second.receiver.progress.messagesKept).toBe(3)
    // Everything else is the old phone's: what it added, and each message it holds the same way.
    const theirs = byId(source)
    expect(now.get('added')?.text).toBe('added in the middle')
    for (const [id, m] of theirs) if (![ids.recalledHere, ids.editedHere, ids.editedEarlierThere].includes(id)) expect(now.get(id)).toEqual(m)
    // A transfer after it is not sent the kept messages again: the old phone's leaves of them are those
    // the second transfer verified (its base), so what this phone holds there is its own doing. It
    // verifies, and the new phone's leaves still describe what it holds.
    const third = await runTransfer(source, target, { options: OPTIONS })
    expect(third.receiver.state).toBe('verified')
    expect(third.receiver.progress.messagesReceived).toBe(0)
    expect(third.receiver.progress.messagesLeftDeleted).toBe(0)
    expect(byId(target)).toEqual(now)
    source.close()
    target.close()
  })

  it('cut anywhere and resumed, keeps the same messages and verifies', async () => {
    const phones = await afterFirstTransfer({})
    const ids = await changeBoth(phones)
    const mine = byId(phones.target)
    // Sessions that die as a frame arrives (before the receiver takes it): the first batch of messages,
    // the first media chunk, and Done, after every message came.
    const dieAt = (body: string, nth: number): RunOptions['onReceived'] => {
      let seen = 0
      return frame => { if (frame.body === body && ++seen === nth) throw new Error('killed') }
    }
    const kept: number[] = []
    for (const [body, nth] of [['batch', 1], ['chunk', 1], ['done', 1]] as const) {
      const cut = await runTransfer(phones.source, phones.target, { options: OPTIONS, onReceived: dieAt(body, nth) })
      expect(cut.receiver.state).not.toBe('verified')
      kept.push(cut.receiver.progress.messagesKept)
    }
    // The last cut session had kept them all: the next one decides again.
    expect(kept[2]).toBe(3)
    const resumed = await runTransfer(phones.source, phones.target, { options: OPTIONS })
    expect(resumed.receiverError).toBeUndefined()
    expect(resumed.receiver.state).toBe('verified')
    expect(resumed.receiver.progress.messagesKept).toBe(3)
    const now = byId(phones.target)
    for (const id of [ids.recalledHere, ids.editedHere, ids.editedEarlierThere]) expect(now.get(id)).toEqual(mine.get(id))
    expect(now.get(ids.editedLaterThere)?.text).toBe('the old phone edited it last')
    expect(now.get('added')?.text).toBe('added in the middle')
    phones.source.close()
    phones.target.close()
  })

  it('that is refused leaves the new phone\'s own changes as they were', async () => {
    const phones = await afterFirstTransfer({})
    const { source, target } = phones
    const ids = await changeBoth(phones)
    const before = byId(target)
    const second = await runTransfer(source, target, { options: OPTIONS, tamper: LIES[1].tamper })
    expect(second.receiver.state).toBe('failed')
    expect(second.receiverError?.code).toBe('DIGEST_MISMATCH')
    const now = byId(target)
    for (const id of Object.values(ids)) expect(now.get(id)).toEqual(before.get(id))
    source.close()
    target.close()
  })

  it('refuses a sender that forges a message this phone keeps its own version of', async () => {
    const phones = await afterFirstTransfer({})
    const { source, target } = phones
    const ids = await changeBoth(phones)
    const forge: Tamper = f => f.body === 'batch'
      ? [{ batch: { messages: (f.batch as ferry.MessageBatch).messages.map(m => m.id === ids.editedHere ? { ...m, text: 'forged' } : m) } }]
      : [f]
    const second = await runTransfer(source, target, { options: OPTIONS, tamper: forge })
    expect(second.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(byId(target).get(ids.editedHere)?.text).toBe('edited on the new phone')
    source.close()
    target.close()
  })
})
