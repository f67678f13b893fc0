import { logger } from '@libp2p/logger'
import type { HistorySink } from '../store/history.js'
import { recordOf } from './media-records.js'

const log = logger('ferry:receiver')

// The old phone may delete a photo, with the messages that show it, between two sessions of a transfer:
// an earlier session stored the photo's record (the manifest's records go in before any message), maybe
// a message showing it, and the photo never came; the next manifest no longer lists it. Moving never
// deletes, so a message that came stays. Its record stays with it, shown as missing, as a file the old
// phone announces missing is, and counted as one (mediaFilesMissing): the person is told, and a message
// here never points at nothing. A record no message here refers to names a file no one will bring: it
// goes. A photo that came before the deletion stays, as the message does.

/**
 * Settles the records the transfer's earlier sessions added of files this session's manifest no longer
 * lists (`unlisted`, TransferLog.mediaAddedEarlier) and this phone lacks: each goes unless a message here
 * refers to it (the store keeps those, HistoryChange.remove.media). Returns how many stay, without their
 * file.
 */
export async function settleGoneAtSource (sink: HistorySink, unlisted: readonly string[]): Promise<number> {
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
