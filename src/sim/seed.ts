import { logger } from '@libp2p/logger'
import { setImmediate as nextTick } from 'node:timers/promises'
import { ErrorCode, FerryError } from '../errors.js'
import type { Contact, Conversation, MediaRecord, Message } from '../store/model.js'
import { generateHistory, hashMedia, type History } from './generator.js'
import type { Profile, ProfileName } from './profiles.js'

const log = logger('ferry:seed')

// Fills a store with a simulated history: media first (a message may only name a file whose sha256 is
// known), then the metadata, then messages in batches, each batch one transaction. The media files are
// listed as being added before the first is written (hashed first, as a file is listed by its sha256),
// and settled once their records are in: a seed killed in between (SIGKILL, a power cut) leaves the
// next writer of the store to remove them, rather than complete files no record names.

/** What seeding needs of a store: SqliteChatStore's local write path. */
export interface SeedTarget {
  transaction: <T>(fn: () => T) => T
  putMetadata: (contacts: Contact[], conversations: Conversation[], media: MediaRecord[]) => void
  putMessages: (messages: Iterable<Message>) => void
  writeMedia: (chunks: AsyncIterable<Uint8Array>) => Promise<{ sha256: string, size: number }>
  hasMediaFile: (sha256: string) => boolean
  willAddMedia: (shas: readonly string[]) => void
  settleAddedMedia: () => number
}

export interface SeedProgress {
  phase: 'media' | 'messages'
  mediaFiles: number
  totalMediaFiles: number
  mediaBytes: number
  totalMediaBytes: number
  messages: number
  totalMessages: number
}

export interface SeedOptions {
  /** Messages per transaction (default 5000): large enough to amortise a commit, small enough to stay responsive. */
  batchSize?: number
  /** Media files written at once (default 4): overlaps one file's fsync with the next one's bytes. */
  concurrency?: number
  onProgress?: (p: SeedProgress) => void
  /** Awaited once the media and the metadata are in, before the first message: where a test holds a seed. */
  beforeMessages?: () => Promise<void>
  /** Awaited once the media files are written, before their records: where a test kills a seed. */
  beforeMediaRecords?: () => Promise<void>
}

export interface SeedSummary {
  profile: ProfileName
  seed: number
  contacts: number
  conversations: number
  messages: number
  mediaFiles: number
  mediaBytes: number
  /** Wall-clock time of the whole seeding, and of its media part. */
  ms: number
  mediaMs: number
}

/** Runs `fn` over `items` with at most `limit` in flight, failing on the first error. */
async function forEachLimited<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
}

/** Writes every media file of `history`, whose sha256s are `ids`, in its order. */
async function writeAllMedia (store: SeedTarget, history: History, ids: readonly string[], concurrency: number, report: (bytes: number) => void): Promise<void> {
  await forEachLimited(history.media, concurrency, async m => {
    const written = await store.writeMedia(m.pieces())
    if (written.size !== m.size || written.sha256 !== ids[m.index]) {
      throw new FerryError(ErrorCode.INTERNAL, `simulated media ${m.index} wrote ${written.size} bytes (sha256 ${written.sha256}), expected ${m.size} (${ids[m.index]})`)
    }
    report(m.size)
  })
}

/** Ends the list of media files the seed was adding. Should that fail, the next writer settles it, and what the seed did or why it failed is what is said. */
function settleMedia (store: SeedTarget): void {
  try {
    store.settleAddedMedia()
  } catch (err) {
    log.error('cannot settle the media files the seed was adding: %s', (err as Error).message)
  }
}

/**
 * Seeds `store` with the history of (profile, seed). Same arguments, same content, on any machine; the
 * writes are upserts, so seeding the same history again changes nothing.
 */
export async function seedStore (store: SeedTarget, profile: ProfileName | Profile, seed: number, options: SeedOptions = {}): Promise<SeedSummary> {
  const started = performance.now()
  const batchSize = Math.max(1, options.batchSize ?? 5000)
  const history = generateHistory(profile, seed)
  const progress: SeedProgress = {
    phase: 'media',
    mediaFiles: 0,
    totalMediaFiles: history.media.length,
    mediaBytes: 0,
    totalMediaBytes: history.mediaBytes,
    messages: 0,
    totalMessages: history.messageCount
  }
  const report = (): void => options.onProgress?.({ ...progress })
  report()

  const ids = await hashMedia(history)
  let mediaMs = 0
  store.willAddMedia([...new Set(ids)].filter(sha => !store.hasMediaFile(sha)))
  try {
    await writeAllMedia(store, history, ids, options.concurrency ?? 4, bytes => {
      progress.mediaFiles++
      progress.mediaBytes += bytes
      report()
    })
    mediaMs = Math.round(performance.now() - started)
    await options.beforeMediaRecords?.()
    store.putMetadata(history.contacts, history.conversations, history.mediaRecords(ids))
  } finally {
    // Committed, every file is named by its record; failed, those it wrote go.
    settleMedia(store)
  }

  await options.beforeMessages?.()
  progress.phase = 'messages'
  let batch: Message[] = []
  const flush = async (): Promise<void> => {
    const rows = batch
    store.transaction(() => store.putMessages(rows))
    progress.messages += rows.length
    batch = []
    report()
    await nextTick() // lets a progress display draw between batches
  }
  for (const m of history.messages(ids)) {
    batch.push(m)
    if (batch.length >= batchSize) await flush()
  }
  if (batch.length > 0) await flush()

  return {
    profile: history.profile.name,
    seed,
    contacts: history.contacts.length,
    conversations: history.conversations.length,
    messages: progress.messages,
    mediaFiles: history.media.length,
    mediaBytes: history.mediaBytes,
    ms: Math.round(performance.now() - started),
    mediaMs
  }
}
