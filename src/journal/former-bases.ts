import { bytesToHex, randomBytes } from '@noble/hashes/utils.js'
import { logger } from '@libp2p/logger'
import type { StoreGenerations } from '../store/history.js'
import { BaseGeneration, generationKey } from './base-generation.js'
import type { Journal, JournalOp } from './journal.js'
import { leafBasesPrefix } from './leaf-bases.js'
import { mediaBaseKey, remaskMediaBase } from './media-bases.js'
import { messageBasesPrefix } from './message-bases.js'
import { NAME_BASES_SALT, nameBasesPrefix } from './name-bases.js'

const log = logger('ferry:journal')

// A phone reset and restored from its own backup has a new history id (its store was made again), and
// to this phone it was a phone never heard from: every base of the three-way rules was the old id's, so
// what this phone's person deleted or renamed since the last transfer from it came back with the first
// transfer from the restored one. Its manifest names the ids it continues (Manifest.former_source_ids,
// HistorySource.formerIds). When this phone holds no base of the sender's own id and holds one of a
// former id, the sender takes those bases over at its first transfer here: each is copied under its own
// id (leaf-bases.ts, name-bases.ts, media-bases.ts, message-bases.ts, base-generation.ts), and
// from then on it reads and writes only its own, as any phone does.
//
// Copied, never shared: the original phone may still be in use, and the two then change apart. Its
// bases stay its own, and neither phone's transfer changes the other's. Only trusted bases are taken
// (base-generation.ts): a store put back to an older copy takes none, as it reads none of the former id.
//
// The message bases (the largest: 8 bytes a message) are copied first, a journal write per MiB or so,
// after dropping any a copy cut short left; the rest goes in one last write with the generation's token.
// A kill before it leaves no leaf, name or media base and no token under the sender's id, so the next
// transfer takes them over again from the start. A base under the sender's own id is any of the ones
// that last write makes, so a phone that ever verified a transfer here takes over nothing.

/** About how many bytes of message bases one journal write copies. */
const COPY_WRITE_BYTES = 1 << 20

async function any (journal: Journal, prefix: string): Promise<boolean> {
  for await (const _ of journal.list(prefix)) return true
  return false
}

/** Whether the journal holds a base (leaf, name, media) or a generation's token of the pair. */
async function holdsBases (journal: Journal, sourceId: string, storeId: string): Promise<boolean> {
  return await journal.get(generationKey(sourceId, storeId)) !== undefined ||
    await journal.get(mediaBaseKey(sourceId, storeId)) !== undefined ||
    await any(journal, leafBasesPrefix(sourceId, storeId)) ||
    await any(journal, nameBasesPrefix(sourceId))
}

/**
 * Takes over the bases of the first of `formerIds` this phone holds any of, for `sourceId` into the
 * store `storeId`, when it holds none of `sourceId`'s. Returns the former id taken over, undefined when
 * none was. Runs before a receive reads a base, after MessageBases.settle.
 */
export async function takeOverFormerBases (journal: Journal, store: StoreGenerations | undefined, sourceId: string, storeId: string, formerIds: readonly string[]): Promise<string | undefined> {
  if (formerIds.length === 0 || await holdsBases(journal, sourceId, storeId)) return undefined
  for (const former of formerIds) {
    if (former === sourceId || !await holdsBases(journal, former, storeId)) continue
    if (!(await BaseGeneration.check(journal, store, former, storeId)).trusted) {
      log('the bases of %s, which %s continues, describe another generation of this store: none is taken over', former, sourceId)
      return undefined
    }
    await copyMessageBases(journal, former, sourceId, storeId)
    const ops: JournalOp[] = []
    const leaves = leafBasesPrefix(sourceId, storeId)
    ops.push({ prefix: leaves }, ...await copied(journal, leafBasesPrefix(former, storeId), leaves))
    const names = nameBasesPrefix(sourceId)
    const formerNames = nameBasesPrefix(former)
    const nameOps = await copied(journal, formerNames, names)
    // The digests stay salted as they were made (name-bases.ts).
    const salt = await journal.get(formerNames + NAME_BASES_SALT)
    ops.push({ prefix: names }, ...nameOps)
    if (salt === undefined) ops.push({ key: names + NAME_BASES_SALT, value: new TextEncoder().encode(former) })
    const media = await journal.get(mediaBaseKey(former, storeId))
    const remasked = media === undefined ? undefined : remaskMediaBase(media, former, sourceId, storeId)
    if (remasked !== undefined) ops.push({ key: mediaBaseKey(sourceId, storeId), value: remasked })
    if (store !== undefined) {
      // The store's token goes first, as at a verification (base-generation.ts).
      const token = bytesToHex(randomBytes(16))
      await store.keepGeneration(sourceId, token)
      ops.push({ key: generationKey(sourceId, storeId), value: new TextEncoder().encode(token) })
    }
    await journal.write(ops)
    log('%s continues %s: took over its bases', sourceId, former)
    return former
  }
  return undefined
}

/** Every entry under `from`, as ops that put it under `to`. */
async function copied (journal: Journal, from: string, to: string): Promise<JournalOp[]> {
  const ops: JournalOp[] = []
  for await (const [key, value] of journal.list(from)) ops.push({ key: to + key.slice(from.length), value: value.slice() })
  return ops
}

/** The pair's message bases, one chat's value at a time, a write every COPY_WRITE_BYTES or so. */
async function copyMessageBases (journal: Journal, former: string, sourceId: string, storeId: string): Promise<void> {
  const from = messageBasesPrefix(former, storeId)
  const to = messageBasesPrefix(sourceId, storeId)
  let ops: JournalOp[] = [{ prefix: to }]
  let bytes = 0
  // A listing reads a page at a time, so writes under another prefix between its pages are safe; its
  // values may be views of that page.
  for await (const [key, value] of journal.list(from)) {
    ops.push({ key: to + key.slice(from.length), value: value.slice() })
    if ((bytes += value.byteLength) < COPY_WRITE_BYTES) continue
    await journal.write(ops)
    ops = []
    bytes = 0
  }
  if (ops.length > 0) await journal.write(ops)
}
