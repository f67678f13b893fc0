import { logger } from '@libp2p/logger'
import type { HistorySink, StoredMedia } from '../store/history.js'
import type { TransferLog, TransferRecord } from '../journal/transfer-log.js'
import type { ManifestMedia } from './manifest-media.js'

const log = logger('ferry:receiver')

// The old phone may delete a photo, with the messages that show it, between two sessions of a transfer:
// an earlier session stored the photo's record (the manifest's records go in before any message), maybe
// a message showing it, and the photo never came; the next manifest no longer lists it. Moving never
// deletes, so a message that came stays. Its record stays with it, shown as missing, as a file the old
// phone announces missing is, and counted as one (mediaFilesMissing): the person is told, and a message
// here never points at nothing. A record no message here refers to names a file no one will bring: it
// goes. A photo that came before the deletion stays, as the message does.

/**
 * Settles the records the transfer's earlier sessions added of files `media` (this session's manifest)
 * no longer lists and this phone lacks: each goes unless a message here refers to it (the store keeps
 * those, HistoryChange.remove.media). Returns how many stay, without their file.
 */
export async function settleGoneAtSource (sink: HistorySink, transferLog: TransferLog, rec: TransferRecord, media: ManifestMedia): Promise<number> {
  const unlisted: string[] = []
  for await (const added of transferLog.mediaAddedBefore(rec)) {
    for (const sha256 of added) if (media.indexOf(sha256) < 0) unlisted.push(sha256)
  }
  if (unlisted.length === 0) return 0
  const fileless: string[] = []
  for (const sha256 of new Set(unlisted)) {
    const r = await recordOf(sink, sha256)
    if (r !== undefined && !r.stored) fileless.push(sha256)
  }
  if (fileless.length === 0) return 0
  await sink.commit({ remove: { media: fileless } })
  let stay = 0
  for (const sha256 of fileless) {
    if (await recordOf(sink, sha256) === undefined) continue
    stay++
    log.error('media %s, which a message an earlier session brought shows, is no longer on the old phone: the message stays without it', sha256)
  }
  log('%d records of media the old phone deleted since an earlier session went, %d stay with the messages showing them', fileless.length - stay, stay)
  return stay
}

/**
 * The store's record of `sha256`, listed from its 63-digit prefix, which sorts before it: among the 16
 * records after it (no more than 15 others share the prefix and sort before it).
 */
async function recordOf (sink: HistorySink, sha256: string): Promise<StoredMedia | undefined> {
  return (await sink.media(sha256.slice(0, 63), 16)).find(r => r.sha256 === sha256)
}
