import { createSha256, type Sha256 } from './sha256.js'
import { toHex } from './digest.js'

/**
 * Hashes each media file from the chunks a sender reads of it, front to back, and counts the files whose
 * bytes are not their sha256 (damaged in the store at their recorded size). For a sender no receiver
 * checks as the bytes go (a backup, which a restore may open only years later); over a transfer the
 * receiver hashes what arrives, so a sender there needs none. Each byte is hashed as it is read: no
 * second read. A file not read from its first byte (resumed from a receiver's part) cannot be judged and
 * is not counted, nor is one found short (the sender counts those itself).
 */
export class SentMediaCheck {
  /** Files read whole whose bytes are not their sha256. */
  damaged = 0
  private hash?: Sha256
  private file?: string
  private at = 0

  /** The chunk [offset, offset + data.byteLength) of the file `sha256`; `last` when it ends the file. */
  chunk (sha256: string, offset: number, data: Uint8Array, last: boolean): void {
    if (offset === 0) {
      this.hash = createSha256()
      this.file = sha256
      this.at = 0
    }
    if (this.hash === undefined || this.file !== sha256 || this.at !== offset) { this.forget(); return }
    this.hash.update(data)
    this.at += data.byteLength
    if (!last) return
    if (toHex(this.hash.digest()) !== sha256) this.damaged++
    this.forget()
  }

  /** The file being read is not judged (found short: its tail goes padded). */
  forget (): void {
    this.hash = undefined
    this.file = undefined
  }
}
