import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, openStore, tempDir } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer } from '../helpers/transfer.js'
import { ferry } from '../helpers/ferry-sync.js'
import { backupFrames, openBackup, restoreBackup, writeBackup } from '../../src/backup/backup.js'
import { deriveKeys, newHeader, SegmentWriter } from '../../src/backup/format.js'
import { isFerryError } from '../../src/errors.js'
import { decodeFrame, ferry as wire } from '../../src/wire/codec.js'
import { MAX_FRAME_BYTES, prefix } from '../../src/wire/framing.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Contact, Conversation } from '../../src/store/model.js'

// What a store can hold that one frame cannot: a chat whose members alone pass a frame's bound goes in
// parts, in a transfer and in a backup, and restores whole; what cannot be cut (one contact, one chat's
// title, more chats than the final check names) is refused before anything is written or sent, in the
// same words by `ferry backup` and a transfer.

const FAST_KDF = { log2N: 4, r: 8, p: 1 } // tests only: new files cost 2^18 (kdf.test.ts)
/** More members than one frame holds: each takes 16 bytes encoded, so 70,000 are about 1.1 MiB. */
const MEMBERS = 70_000

afterEach(async () => { await closeJournals() })
afterAll(() => { cleanupTempDirs() })

const member = (i: number): string => `+49151${String(i).padStart(8, '0')}`

/** A store whose one group chat has `MEMBERS` members (the first thousand of them contacts) and a message. */
function bigGroupStore (): { store: SqliteChatStore, group: Conversation, contacts: Contact[] } {
  const store = openStore()
  const members = Array.from({ length: MEMBERS }, (_, i) => member(i))
  const contacts = members.slice(0, 1000).map((id, i) => ({ id, name: `Person ${i}` }))
  const group: Conversation = { id: 'everyone', kind: 'group', title: 'Everyone', members }
  store.putMetadata(contacts, [group, { id: 'small', kind: 'direct', title: 'Bo', members: [members[1]] }], [])
  store.putMessages([
    { conversation: 'everyone', id: 'm1', sender: members[0], ts: 1_700_000_000_000, kind: 'text', text: 'hello all' },
    { conversation: 'small', id: 'm1', sender: members[1], ts: 1_700_000_000_000, kind: 'text', text: 'hi' }
  ])
  return { store, group, contacts }
}

async function restoreInto (file: string): Promise<SqliteChatStore> {
  const target = openStore()
  const { receiver } = await restoreBackup(target, journalOf(target), await openBackup(file))
  expect(receiver.state).toBe('verified')
  return target
}

async function expectWhole (target: SqliteChatStore, group: Conversation, contacts: Contact[]): Promise<void> {
  const got = (await target.conversations()).find(i => i.conversation.id === group.id)
  expect(got?.conversation.members).toEqual(group.members)
  expect(got?.messages).toBe(1)
  expect((await target.contacts()).length).toBe(contacts.length)
}

/** The largest frame of a backup, in bytes. */
async function largestFrame (file: string): Promise<number> {
  let max = 0
  for await (const f of backupFrames(await openBackup(file))) max = Math.max(max, f.byteLength)
  return max
}

describe('a chat with more members than one frame holds', () => {
  it('backs up in frames a restore reads, and restores with every member in order', async () => {
    const { store, group, contacts } = bigGroupStore()
    const file = join(tempDir(), 'big.ferrybak')
    await writeBackup(store, file, { kdf: FAST_KDF })
    store.close()
    expect(await largestFrame(file)).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    const target = await restoreInto(file)
    await expectWhole(target, group, contacts)
    target.close()
  })

  it('moves whole in a transfer', async () => {
    const { store, group, contacts } = bigGroupStore()
    const target = openStore()
    const run = await runTransfer(store, target)
    expect(run.receiverError).toBeUndefined()
    expect(run.receiver.state).toBe('verified')
    await expectWhole(target, group, contacts)
    store.close()
    target.close()
  })

  it('a backup written before members went in parts (one frame past the bound) restores too', async () => {
    const { store, group, contacts } = bigGroupStore()
    const parts = join(tempDir(), 'parts.ferrybak')
    await writeBackup(store, parts, { kdf: FAST_KDF })
    store.close()
    const old = join(tempDir(), 'one-frame.ferrybak')
    await asWrittenBefore(parts, old)
    expect(await largestFrame(old).catch((e: unknown) => e)).toMatchObject({ code: 'FRAME_TOO_LARGE' })
    const target = await restoreInto(old)
    await expectWhole(target, group, contacts)
    target.close()
  })
})

/**
 * Rewrites a backup the way Ferry wrote one before a chat's members could go in parts: each chat whole
 * in one manifest entry (so one frame holds all its members), every other frame as it was.
 */
async function asWrittenBefore (from: string, to: string): Promise<void> {
  const frames: Uint8Array[] = []
  const manifests: Array<{ at: number, part: wire.Manifest }> = []
  for await (const body of backupFrames(await openBackup(from))) {
    const f = decodeFrame(body)
    if (f.body === 'manifest') manifests.push({ at: frames.length, part: f.manifest as wire.Manifest })
    frames.push(Uint8Array.from(body))
  }
  let head: wire.IConversation | undefined
  for (const { part } of manifests) {
    part.conversations = part.conversations.filter(c => {
      if (c.continued !== true) { head = c; return true }
      head?.members?.push(...(c.members ?? []))
      return false
    })
  }
  for (const { at, part } of manifests) frames[at] = wire.Frame.encode({ manifest: part }).finish()
  const header = newHeader({ password: false, kdf: FAST_KDF })
  const keys = deriveKeys(header)
  const out: Buffer[] = [Buffer.from(header.bytes), keys.check]
  const writer = new SegmentWriter(keys, header.segmentBytes, parts => out.push(...parts))
  for (const f of frames) {
    writer.push(prefix([f]))
    writer.push(f)
  }
  writer.end()
  writeFileSync(to, Buffer.concat(out))
}

describe('what cannot be cut is refused before anything is written or sent', () => {
  const HUGE_NAME = 'n'.repeat(1_200_000)
  const REFUSAL = 'ferry: contact u1 (its id, name and number) takes 1.1 MiB, and Ferry moves at most 1 MiB of it in one piece: ' +
    'nothing was sent or written. No chat app writes one that long; change it on this phone, or leave out the chats it is in with --chats [TOO_LARGE]\n'

  function hugeContactStore (name: string): SqliteChatStore {
    const store = openStore()
    store.putMetadata([{ id: 'u1', name }, { id: 'u2', name: 'Bo' }], [
      { id: 'c1', kind: 'direct', title: 'One', members: ['u1'] },
      { id: 'c2', kind: 'direct', title: 'Two', members: ['u2'] }
    ], [])
    store.putMessages([
      { conversation: 'c1', id: 'm', sender: 'u1', ts: 1, kind: 'text', text: 'x' },
      { conversation: 'c2', id: 'm', sender: 'u2', ts: 1, kind: 'text', text: 'y' }
    ])
    return store
  }

  it('ferry backup of a contact with a name past the bound: refused in words, no file', () => {
    const store = hugeContactStore(HUGE_NAME)
    store.close()
    const out = join(tempDir(), 'chats.ferrybak')
    const r = ferry('backup', '--store', store.dir, '--out', out, '--no-password')
    expect(r.stderr).toBe(REFUSAL)
    expect(r.status).not.toBe(0)
    expect(readdirSync(dirname(out))).toEqual([])
    // Without the chat that contact is in, the rest backs up and restores.
    const some = ferry('backup', '--store', store.dir, '--out', out, '--no-password', '--chats', 'c2')
    expect(some.status, some.stderr).toBe(0)
    expect(existsSync(out)).toBe(true)
  })

  it('a transfer refuses it with the same words; a name just under the bound backs up and restores', async () => {
    const store = hugeContactStore(HUGE_NAME)
    const run = await runTransfer(store, openStore())
    expect(run.senderError?.message).toBe(REFUSAL.slice('ferry: '.length, -' [TOO_LARGE]\n'.length))
    store.close()
    const under = 'n'.repeat(1024 * 1024 - 64)
    const fits = hugeContactStore(under)
    const file = join(tempDir(), 'long-name.ferrybak')
    await writeBackup(fits, file, { kdf: FAST_KDF })
    fits.close()
    const target = await restoreInto(file)
    expect((await target.contacts()).find(c => c.id === 'u1')?.name).toBe(under)
    target.close()
  })

  it('a date window sends only the people in its chats: a huge contact in none is not refused up front, nor sent', async () => {
    const store = hugeContactStore('Bo')
    store.putMetadata([{ id: 'u9', name: HUGE_NAME }], [], [])
    const file = join(tempDir(), 'window.ferrybak')
    // The whole history holds u9, and is refused; a window, like the manifest, holds only its chats' people.
    await expect(writeBackup(store, file, { kdf: FAST_KDF })).rejects.toThrow(/contact u9/)
    await writeBackup(store, file, { kdf: FAST_KDF, selection: { since: 0 } })
    store.close()
    const target = await restoreInto(file)
    expect((await target.contacts()).map(c => c.id).sort()).toEqual(['u1', 'u2'])
    target.close()
  })

  it('more chats than the final check names: writeBackup refuses before making the file, naming how many fit', async () => {
    const store = openStore()
    const chats = Array.from({ length: 20_000 }, (_, i) => ({ id: `chat-${String(i).padStart(8, '0')}`, kind: 'direct' as const, title: 't', members: ['a'] }))
    store.putMetadata([], chats, [])
    store.putMessages(chats.map(c => ({ conversation: c.id, id: 'm', sender: 'a', ts: 1, kind: 'text' as const, text: 'x' })))
    const file = join(tempDir(), 'chats.ferrybak')
    const err = await writeBackup(store, file, { kdf: FAST_KDF }).catch((e: unknown) => e)
    expect(isFerryError(err, 'TOO_LARGE'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/^these 20000 chats are more than Ferry moves at once: the check that ends a transfer names every chat in one piece of at most 1 MiB, room for the first 19\d\d\d of these by their ids: nothing was sent or written/)
    expect(readdirSync(dirname(file))).toEqual([])
    const run = await runTransfer(store, openStore())
    expect(run.senderError?.message).toBe((err as Error).message)
    store.close()
  })
})
