import type { HistorySink, StoredMedia } from '../store/history.js'
import type { MediaRecord } from '../store/model.js'
import type { TransferLog, TransferRecord } from '../journal/transfer-log.js'
import type { MediaPriors } from '../journal/media-log.js'
import type { ManifestMedia } from './manifest-media.js'

// The manifest's media records go into the store once the transfer is opened, a slice at a time, each
// slice's undo entry logged first (write-ahead, as every batch): the records the store did not hold,
// which an undo takes back, and the versions of those it held otherwise, which it puts back. A record
// the store holds as it is, is neither logged nor written: it was there before this transfer, and an
// undo must leave it (an earlier transfer verified it, or the app wrote it). Another type replaces this
// phone's (the old phone's history is what moves, and nothing here tells which type is right); another
// size does only for a file this phone does not hold whole: a sha256 determines its file's size, and the
// old phone's entry for a file held whole at another size is wrong there, so the caller skips it.

/** Manifest entries per undo entry and commit. */
const SLICE = 4096
/** Stored records per read. */
const PAGE = 4096

/**
 * Stores `media`'s records for the transfer `rec`, logging each slice in `log` before it is written; but
 * for those `skip` says (files left deleted here, whose records come only with a message naming them,
 * and entries that misstate a file held here whole, whose record here stays).
 */
export async function storeMediaRecords (sink: HistorySink, log: TransferLog, rec: TransferRecord, media: ManifestMedia, skip: (i: number) => boolean = () => false): Promise<void> {
  const held = await storedRecords(sink)
  for (let from = 0; from < media.length; from += SLICE) {
    const priors: MediaPriors = { added: [], replaced: [] }
    const write: MediaRecord[] = []
    for (let i = from; i < Math.min(from + SLICE, media.length); i++) {
      if (skip(i)) continue
      // The fields one at a time, not get()'s object: this loop runs over the whole index at once.
      const sha256 = media.sha256(i)
      const size = media.size(i)
      const mime = media.mime(i)
      const mine = held === undefined ? undefined : await held.find(sha256)
      if (mine === undefined) priors.added.push(sha256)
      else if (mine.size !== size || mine.mime !== mime) priors.replaced.push({ sha256, size: mine.size, mime: mine.mime })
      else continue
      write.push({ sha256, size, mime })
    }
    if (write.length === 0) continue
    await log.logMedia(rec, priors)
    await sink.commit({ media: write })
  }
}

/**
 * The store's records, looked up in increasing sha256 order a page at a time (jumping ahead to the one
 * asked for); undefined for a store that holds none (a new phone), whose lookups would all miss.
 */
async function storedRecords (sink: HistorySink): Promise<{ find: (sha256: string) => Promise<StoredMedia | undefined> } | undefined> {
  if ((await sink.media(undefined, 1)).length === 0) return undefined
  let page: StoredMedia[] = []
  let at = 0
  let exhausted = false
  return {
    async find (sha256) {
      for (;;) {
        while (at < page.length && page[at].sha256 < sha256) at++
        if (at < page.length) return page[at].sha256 === sha256 ? page[at] : undefined
        if (exhausted) return undefined
        // Past the page: on from its end, or from just before `sha256` (a 63-digit prefix sorts
        // before it and after every sha256 below it) when that is further.
        const last = page[page.length - 1]?.sha256
        const prefix = sha256.slice(0, 63)
        page = await sink.media(last !== undefined && last > prefix ? last : prefix, PAGE)
        at = 0
        exhausted = page.length < PAGE
      }
    }
  }
}

/**
 * The store's record of `sha256`, listed from its 63-digit prefix, which sorts before it: among the 16
 * records after it (no more than 15 others share the prefix and sort before it).
 */
export async function recordOf (sink: HistorySink, sha256: string): Promise<StoredMedia | undefined> {
  return (await sink.media(sha256.slice(0, 63), 16)).find(r => r.sha256 === sha256)
}
