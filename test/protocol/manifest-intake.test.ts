import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { buildManifest, manifestFrames, type ManifestData } from '../../src/protocol/manifest.js'
import { ManifestIntake } from '../../src/protocol/manifest-intake.js'
import { DEFAULT_OPTIONS } from '../../src/protocol/options.js'
import { FerryError } from '../../src/errors.js'
import type { Selection } from '../../src/store/model.js'
import { decodeFrame, encodeFrame, type EncodedFrame, type ferry } from '../../src/wire/codec.js'
import { MAX_FRAME_BYTES } from '../../src/wire/framing.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'

// The receiver holds the manifest whole until its last part, then checks the transfer it announces before
// anything touches the store: parts as a real sender splits them, and each way a manifest can lie.

let source: SqliteChatStore
let whole: ManifestData
beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 4, messagesPerConversation: 30, mediaSizes: [10_000, 20_000, 5_000] })
  whole = await buildManifest(source, {})
})
afterAll(() => { source.close(); cleanupTempDirs() })

const concat = (f: EncodedFrame): Uint8Array => f.length === 1 ? f[0] : Uint8Array.from(Buffer.concat(f))

/** The manifest's parts as the receiver decodes them, split at `frameBytes`. */
async function partsOf (m: ManifestData, frameBytes = 32 * 1024, windowBytes = DEFAULT_OPTIONS.windowBytes): Promise<Array<{ part: ferry.Manifest, size: number }>> {
  const parts = []
  for await (const f of manifestFrames(m, frameBytes, undefined, windowBytes, true)) {
    const bytes = concat(f)
    parts.push({ part: decodeFrame(bytes).manifest as ferry.Manifest, size: bytes.byteLength })
  }
  return parts
}

async function announce (m: ManifestData, request: Selection = {}, limits = DEFAULT_OPTIONS, frameBytes?: number): Promise<ReturnType<ManifestIntake['announced']>> {
  const intake = new ManifestIntake(limits)
  const parts = await partsOf(m, frameBytes)
  for (const [i, { part, size }] of parts.entries()) expect(intake.add(part, size)).toBe(i === parts.length - 1)
  return intake.announced(request)
}

async function refusal (run: Promise<unknown>): Promise<string> {
  const err = await run.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(FerryError)
  return (err as FerryError).code
}

describe('ManifestIntake', () => {
  it('announces what a sender\'s manifest of many parts holds, in its order', async () => {
    const parts = await partsOf(whole, 100)
    expect(parts.length).toBeGreaterThan(3)
    const { expected, contacts, mediaFiles, windowBytes } = await announce(whole, {}, DEFAULT_OPTIONS, 100)
    expect(Uint8Array.from(expected.transferId)).toEqual(Uint8Array.from(whole.transferId))
    expect(expected.sourceId).toBe(whole.sourceId)
    expect(expected.conversations.map(c => [c.conversation.id, c.expect])).toEqual(whole.conversations.map(c => [c.conversation.id, c.messageCount]))
    expect(expected.conversations.map(c => c.index)).toEqual([0, 1, 2, 3])
    expect([...expected.byId.keys()]).toEqual(whole.conversations.map(c => c.conversation.id))
    expect(expected.totalMessages).toBe(120)
    expect(contacts).toEqual(whole.contacts)
    expect([...expected.media].map(m => m.sha256)).toEqual([...whole.media].map(m => m.sha256))
    expect(mediaFiles).toBe(3)
    expect(expected.totalMediaBytes).toBe(35_000)
    expect(expected.plansBases).toBe(true)
    expect(windowBytes).toBe(DEFAULT_OPTIONS.windowBytes)
  })

  it('takes a selection the sender narrowed, and refuses one it widened or a chat outside it', async () => {
    const [a, b] = whole.conversations.map(c => c.conversation.id)
    const narrowed = { ...whole, selection: { conversations: [a] }, conversations: whole.conversations.slice(0, 1), totalMessages: 30 }
    expect((await announce(narrowed, { conversations: [a, b] })).expected.conversations.length).toBe(1)
    expect(await refusal(announce(whole, { conversations: [a] }))).toBe('SELECTION')
    const outside = { ...whole, selection: { conversations: [a] } }
    expect(await refusal(announce(outside, { conversations: [a] }))).toBe('SELECTION')
  })

  it('refuses conversations repeated or out of order, and counts that do not add up', async () => {
    const [c0, c1] = whole.conversations
    expect(await refusal(announce({ ...whole, conversations: [c0, c0], totalMessages: 60 }))).toBe('MALFORMED_FRAME')
    expect(await refusal(announce({ ...whole, conversations: [c1, c0], totalMessages: 60 }))).toBe('MALFORMED_FRAME')
    expect(await refusal(announce({ ...whole, totalMessages: 119 }))).toBe('COUNT_MISMATCH')
    expect(await refusal(announce({ ...whole, transferId: whole.transferId.subarray(0, 8) }))).toBe('MALFORMED_FRAME')
  })

  it('bounds the manifest it holds, in bytes and in entries', async () => {
    const bytes = (await partsOf(whole, 100)).reduce((n, p) => n + p.size, 0)
    const members = whole.conversations.reduce((n, c) => n + c.conversation.members.length, 0)
    expect(members).toBeGreaterThan(0)
    const entries = whole.contacts.length + whole.conversations.length + members + whole.media.length
    // Each intake takes parts of its own: it keeps them, their media moved into its index.
    const takeAll = async (intake: ManifestIntake): Promise<boolean[]> => (await partsOf(whole, 100)).map(({ part, size }) => intake.add(part, size))
    expect(await refusal(takeAll(new ManifestIntake({ ...DEFAULT_OPTIONS, maxManifestBytes: bytes - 1 })))).toBe('TOO_LARGE')
    expect(await refusal(takeAll(new ManifestIntake({ ...DEFAULT_OPTIONS, maxManifestEntries: entries - 1 })))).toBe('TOO_LARGE')
    expect((await takeAll(new ManifestIntake({ ...DEFAULT_OPTIONS, maxManifestBytes: bytes, maxManifestEntries: entries }))).at(-1)).toBe(true)
    // What is held decoded (contacts, chats, members) has a bound of its own, far below the entries'.
    const records = entries - whole.media.length
    expect(await refusal(takeAll(new ManifestIntake({ ...DEFAULT_OPTIONS, maxManifestRecords: records - 1 })))).toBe('TOO_LARGE')
    expect((await takeAll(new ManifestIntake({ ...DEFAULT_OPTIONS, maxManifestRecords: records }))).at(-1)).toBe(true)
  })

  it('refuses a manifest whose chats list more members than it holds decoded, within its byte bound', async () => {
    // A lying sender's chats with millions of two-letter members: a few MB on the wire, several times that
    // decoded, and held until the last part.
    const members = Array.from({ length: DEFAULT_OPTIONS.maxManifestRecords / 4 }, (_, i) => i.toString(36))
    const intake = new ManifestIntake(DEFAULT_OPTIONS)
    let refused: unknown
    let taken = 0
    try {
      for (let i = 0; i < 8; i++) {
        const bytes = concat(encodeFrame({ manifest: { conversations: [{ id: `c${i}`, kind: 'group', title: 'x', members, messageCount: 0 }], more: true } }))
        intake.add(decodeFrame(bytes).manifest as ferry.Manifest, bytes.byteLength)
        taken++
      }
    } catch (err) { refused = err }
    expect(taken).toBe(3)
    expect(refused).toBeInstanceOf(FerryError)
    expect((refused as FerryError).code).toBe('TOO_LARGE')
    expect((refused as FerryError).message).toMatch(/members/)
  })
})

describe('a chat whose members go in parts', () => {
  // About 1.1 MiB of member ids: more than one frame may carry, so its members go on in a second entry.
  const members = Array.from({ length: 80_000 }, (_, i) => `member-${i}`)
  const withChat = (ids: string[]): ManifestData => ({
    ...whole,
    conversations: [{ conversation: { id: 'a-big', kind: 'group', title: 'Big', members: ids }, messageCount: 0 }, ...whole.conversations]
  })
  const big = (): ManifestData => withChat(members)

  it('is sent in entries that continue it, each within a frame, and announced whole, counted once', async () => {
    const parts = await partsOf(big())
    const entries = parts.flatMap(p => p.part.conversations).filter(c => c.id === 'a-big')
    expect(entries.length).toBe(2)
    expect(entries[0].continued ?? false).toBe(false)
    expect(entries[1].continued === true && (entries[1].title ?? '') === '').toBe(true)
    expect(Math.max(...parts.map(p => p.size))).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    const records = whole.contacts.length + whole.conversations.length + 1 + members.length +
      whole.conversations.reduce((n, c) => n + c.conversation.members.length, 0)
    const { expected } = await announce(big(), {}, { ...DEFAULT_OPTIONS, maxManifestRecords: records })
    expect(expected.byId.get('a-big')?.conversation).toEqual({ id: 'a-big', kind: 'group', title: 'Big', members })
    expect(expected.conversations.length).toBe(whole.conversations.length + 1)
  })

  it('a chat that fits a frame goes in one entry, as a Ferry without continuations reads it', async () => {
    // 3,000 members (~40 KB) are more than a 32 KiB part but far less than a frame.
    const parts = await partsOf(withChat(members.slice(0, 3000)))
    const entries = parts.flatMap(p => p.part.conversations).filter(c => c.id === 'a-big')
    expect(entries).toHaveLength(1)
    expect(entries[0].continued ?? false).toBe(false)
    expect(entries[0].members).toHaveLength(3000)
  })

  it('members that continue another chat than the one before them are refused', async () => {
    const intake = new ManifestIntake(DEFAULT_OPTIONS)
    const parts = await partsOf(big())
    const stray = parts.find(p => p.part.conversations.some(c => c.continued === true)) as { part: ferry.Manifest, size: number }
    for (const c of stray.part.conversations) if (c.continued === true) c.id = 'c0'
    for (const { part, size } of parts) intake.add(part, size)
    expect(() => intake.announced({})).toThrow(/members of conversation c0 continue no entry of it/)
  })

  it('a continuation that carries no member is refused as it comes, not held', () => {
    // Each would count as no record: a flood of them passed every bound but the bytes (16 M entries).
    const intake = new ManifestIntake(DEFAULT_OPTIONS)
    const bytes = concat(encodeFrame({ manifest: { conversations: [{ id: 'c', kind: 'group', title: '', members: ['m'], messageCount: 0 }, ...Array.from({ length: 1000 }, () => ({ id: 'c', continued: true }))], more: true } }))
    let refused: unknown
    try { intake.add(decodeFrame(bytes).manifest as ferry.Manifest, bytes.byteLength) } catch (err) { refused = err }
    expect(refused).toBeInstanceOf(FerryError)
    expect((refused as FerryError).code).toBe('MALFORMED_FRAME')
    expect((refused as FerryError).message).toMatch(/continuing conversation c carries no member/)
  })
})
