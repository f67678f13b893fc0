import { bytesToHex } from '@noble/hashes/utils.js'
import type { TransferLog } from '../journal/transfer-log.js'
import type { MediaBase } from '../journal/media-bases.js'
import { bitmapBytes, getBit, setBit } from './bitmap.js'
import type { ManifestMedia } from './manifest-media.js'

// Which of the manifest's files this phone has held a record of, for MediaIntake.resume: one of them
// with no record now was removed here (the app removes a record with the last message that shows its
// file, and the store keeps a record a message refers to), so its owner deleted it and it stays deleted.
// Two things say a record was here: the media base (the last verified transfer carried the file), and
// this transfer's own log (its first session stored the manifest's records). Without the second, a
// photo deleted with its message while the media went on, in a session then cut, would have its record
// stored again by the next session and its file fetched, with no message to show it.

/**
 * Whether entry i's record was here; undefined when neither the base nor the transfer's log names a
 * file (then nothing is left deleted).
 */
export async function recordsHeldHere (media: ManifestMedia, base: MediaBase, log: TransferLog, transferId: Uint8Array): Promise<((i: number) => boolean) | undefined> {
  let stored: Uint8Array | undefined
  for await (const sha of log.manifestMediaAdded(bytesToHex(transferId))) {
    const i = media.indexOf(sha)
    if (i < 0) continue
    stored ??= new Uint8Array(bitmapBytes(media.length))
    setBit(stored, i)
  }
  const inBase = base.size === 0 ? () => false : (i: number) => base.has(media.hashAt(i))
  if (stored === undefined) return base.size === 0 ? undefined : inBase
  const earlier = stored
  return i => getBit(earlier, i) || inBase(i)
}
