import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { generateHistory, hashMedia } from '../../src/sim/generator.js'
import { seedStore, type SeedProgress, type SeedTarget } from '../../src/sim/seed.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Message } from '../../src/store/model.js'
import { cleanupTempDirs, exportText, openStore } from '../helpers/stores.js'

afterAll(cleanupTempDirs)

/** A store's whole content as one digest: records in canonical order, and every media file's bytes. */
function contentDigest (store: SqliteChatStore): { messages: number, digest: string } {
  const hash = createHash('sha256')
  for (const r of [...store.listContacts(), ...store.listConversations(), ...store.listMedia()]) hash.update(JSON.stringify(r) + '\n')
  let messages = 0
  for (const m of store.listMessages()) {
    hash.update(JSON.stringify(m) + '\n')
    messages++
  }
  for (const m of store.listMedia()) hash.update(readFileSync(store.mediaPath(m.sha256)))
  return { messages, digest: hash.digest('hex') }
}

async function seeded (seed: number): Promise<SqliteChatStore> {
  const store = openStore()
  await seedStore(store, 'tiny', seed)
  return store
}

describe('seedStore', () => {
  it('seeds tiny with every record and media file in place (the time printed, never asserted)', async () => {
    const store = openStore()
    const summary = await seedStore(store, 'tiny', 1)
    console.log(`seeded tiny in ${summary.ms} ms (media ${summary.mediaMs} ms)`)
    const history = generateHistory('tiny', 1)
    expect(summary).toMatchObject({ profile: 'tiny', seed: 1, contacts: 8, conversations: 4, messages: 300, mediaFiles: history.media.length, mediaBytes: history.mediaBytes })
    expect(store.stats()).toMatchObject({ contacts: 8, conversations: 4, messages: 300, media: history.media.length, mediaMissing: 0, mediaBytesPresent: history.mediaBytes })

    // the store holds exactly what the generator made, media named by the sha256 of their bytes
    const ids = await hashMedia(history)
    expect([...store.listMedia()].map(m => m.sha256).sort()).toEqual([...ids].sort())
    expect(store.listContacts()).toEqual([...history.contacts].sort((a, b) => a.id < b.id ? -1 : 1))
    const generated = new Map([...history.messages(ids)].map(m => [`${m.conversation}/${m.id}`, m]))
    for (const m of store.listMessages()) expect(m).toEqual(generated.get(`${m.conversation}/${m.id}`))
    for (const m of store.listMedia()) {
      expect(createHash('sha256').update(readFileSync(store.mediaPath(m.sha256))).digest('hex')).toBe(m.sha256)
    }
    store.close()
  })

  it('gives identical stores for the same seed, and different ones for another seed', async () => {
    const [a, b, c] = [await seeded(4), await seeded(4), await seeded(5)]
    const da = contentDigest(a)
    expect(da.messages).toBe(300)
    expect(contentDigest(b)).toEqual(da)
    expect(contentDigest(c).digest).not.toBe(da.digest)
    expect(await exportText(b)).toBe(await exportText(a)) // two phones seeded alike export identical NDJSON
    for (const s of [a, b, c]) s.close()
  })

  it('changes nothing when the same history is seeded again', async () => {
    const store = await seeded(6)
    const before = contentDigest(store)
    await seedStore(store, 'tiny', 6)
    expect(contentDigest(store)).toEqual(before)
    store.close()
  })
})

/** A store double that records how seeding writes. */
function recordingTarget (): SeedTarget & { batches: number[], inTransaction: boolean[], media: number, messages: Message[], steps: string[], listed: string[] } {
  let depth = 0
  const step = (name: string): void => { if (t.steps.at(-1) !== name) t.steps.push(name) }
  const t = {
    batches: [] as number[],
    inTransaction: [] as boolean[],
    media: 0,
    messages: [] as Message[],
    /** What the seed did, in order, each run of one kind once. */
    steps: [] as string[],
    listed: [] as string[],
    hasMediaFile: () => false,
    willAddMedia (shas: readonly string[]) { step('list'); t.listed.push(...shas) },
    settleAddedMedia () { step('settle'); return 0 },
    transaction<T> (fn: () => T): T {
      depth++
      try { return fn() } finally { depth-- }
    },
    putMetadata () { step('records') },
    putMessages (messages: Iterable<Message>) {
      step('messages')
      const batch = [...messages]
      t.batches.push(batch.length)
      t.inTransaction.push(depth > 0)
      t.messages.push(...batch)
    },
    async writeMedia (chunks: AsyncIterable<Uint8Array>) {
      const hash = createHash('sha256')
      let size = 0
      for await (const c of chunks) { hash.update(c); size += c.byteLength }
      step('media')
      t.media++
      return { sha256: hash.digest('hex'), size }
    }
  }
  return t
}

describe('seedStore writes', () => {
  it('messages in transactions of at most batchSize, media once each, and reports progress to the totals', async () => {
    const target = recordingTarget()
    const events: SeedProgress[] = []
    const summary = await seedStore(target, 'tiny', 1, { batchSize: 64, concurrency: 3, onProgress: p => events.push(p) })
    expect(target.batches).toEqual([64, 64, 64, 64, 44])
    expect(target.inTransaction.every(Boolean)).toBe(true)
    expect(target.media).toBe(summary.mediaFiles)
    // Each media file is listed as being added before the first is written, and the list settled once
    // their records are in: a seed killed in between leaves them to the store's next writer.
    expect(target.steps).toEqual(['list', 'media', 'records', 'settle', 'messages'])
    expect(new Set(target.listed).size).toBe(target.listed.length)
    const last = events[events.length - 1]
    expect(last).toMatchObject({ phase: 'messages', messages: 300, totalMessages: 300, mediaFiles: summary.mediaFiles, mediaBytes: summary.mediaBytes, totalMediaBytes: summary.mediaBytes })
    for (let i = 1; i < events.length; i++) {
      expect(events[i].messages).toBeGreaterThanOrEqual(events[i - 1].messages)
      expect(events[i].mediaBytes).toBeGreaterThanOrEqual(events[i - 1].mediaBytes)
    }
  })

  it('writes the same messages whatever the concurrency of media writes', async () => {
    const one = recordingTarget()
    const many = recordingTarget()
    await seedStore(one, 'tiny', 2, { concurrency: 1 })
    await seedStore(many, 'tiny', 2, { concurrency: 16 })
    expect(many.messages).toEqual(one.messages)
  })
})
