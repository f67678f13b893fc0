import {
  closeSync, constants, createReadStream, existsSync, fstatSync, ftruncateSync, openSync, readdirSync, statSync, unlinkSync, writeSync
} from 'node:fs'
import { resolve } from 'node:path'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import type { ReceivedMedia } from '../store/history.js'
import type { PartFiles } from './journal.js'
import { makePrivateDir, PRIVATE_FILE_MODE } from '../private-files.js'
import { childPath } from '../child-path.js'

const SHA256_HEX = /^[0-9a-f]{64}$/

function checkSha (sha: string): void {
  if (!SHA256_HEX.test(sha)) throw new FerryError(ErrorCode.BAD_INPUT, `not a lowercase sha256: '${sha.slice(0, 80)}'`)
}

/**
 * Partial media files on Node, one `<sha256>.part` each, its size its committed length: writes go in
 * order at the end, and one a kill cuts short leaves a prefix of its bytes. No fsync per write: a killed
 * process loses nothing the kernel holds, and after a power cut a length whose bytes never reached the
 * disk shows as a sha256 mismatch when the file completes, so that one file is fetched again. The store
 * syncs a file before it takes it under its name (HistorySink.putMedia).
 */
export class NodePartFiles implements PartFiles {
  readonly root: string
  /** Parts arrive one at a time: the one being written stays open, its length known. */
  private openPart?: { sha: string, fd: number, end: number }

  constructor (root: string) {
    this.root = resolve(root)
    try {
      makePrivateDir(this.root)
    } catch (err) {
      throw storeError(err, `creating ${this.root}`)
    }
  }

  path (sha: string): string {
    checkSha(sha)
    return childPath(this.root, `${sha}.part`)
  }

  async size (sha: string): Promise<number> {
    return this.sizeSync(sha)
  }

  sizeSync (sha: string): number {
    return statSync(this.path(sha), { throwIfNoEntry: false })?.size ?? 0
  }

  async write (sha: string, offset: number, data: Uint8Array): Promise<void> {
    this.writeSync(sha, offset, data)
  }

  writeSync (sha: string, offset: number, data: Uint8Array): void {
    try {
      const part = this.partFor(sha, offset)
      let done = 0
      while (done < data.byteLength) done += writeSync(part.fd, data, done, data.byteLength - done, offset + done)
      part.end = offset + data.byteLength
    } catch (err) {
      throw storeError(err, `writing partial media ${sha}`)
    }
  }

  /** A whole file at once, replacing any earlier part (a photo that came in one chunk). */
  writeWhole (sha: string, data: Uint8Array): void {
    try {
      this.closePart()
      const fd = openSync(this.path(sha), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, PRIVATE_FILE_MODE)
      this.openPart = { sha, fd, end: 0 }
      let done = 0
      while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, done)
      this.openPart.end = data.byteLength
    } catch (err) {
      throw storeError(err, `writing media ${sha}`)
    }
  }

  /**
   * The part, open, cut at `offset` when longer: a part is a prefix of the file, so nothing it held past
   * a write may outlive it.
   */
  private partFor (sha: string, offset: number): { fd: number, end: number } {
    let part = this.openPart?.sha === sha ? this.openPart : undefined
    if (part === undefined) {
      this.closePart()
      // From the start (a file begun, nearly always), whatever is there goes: cut as it opens, with no
      // length to ask for.
      const fromStart = offset === 0 ? constants.O_TRUNC : 0
      const fd = openSync(this.path(sha), constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | fromStart, PRIVATE_FILE_MODE)
      part = this.openPart = { sha, fd, end: offset === 0 ? 0 : fstatSync(fd).size }
    }
    if (part.end > offset) {
      ftruncateSync(part.fd, offset)
      part.end = offset
    }
    // A hole would read as zeros, and the part's length is what a resumed transfer trusts.
    if (offset > part.end) throw new FerryError(ErrorCode.STORE, `partial media ${sha}: a write at ${offset} would leave a gap after its ${part.end} bytes`)
    return part
  }

  private closePart (sha?: string): void {
    if (this.openPart === undefined || (sha !== undefined && this.openPart.sha !== sha)) return
    closeSync(this.openPart.fd)
    this.openPart = undefined
  }

  async truncate (sha: string, length: number): Promise<void> {
    try {
      this.closePart(sha)
      const fd = openSync(this.path(sha), 'r+')
      try { ftruncateSync(fd, length) } finally { closeSync(fd) }
    } catch (err) {
      throw storeError(err, `cutting partial media ${sha}`)
    }
  }

  async * read (sha: string, length: number): AsyncGenerator<Uint8Array> {
    let got = 0
    if (length > 0) {
      for await (const chunk of createReadStream(this.path(sha), { start: 0, end: length - 1, highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
        got += chunk.byteLength
        yield chunk
      }
    }
    if (got < length) throw new FerryError(ErrorCode.STORE, `partial media ${sha} is shorter than its committed ${length} bytes`)
  }

  handOff (sha: string, size: number, mime: string): ReceivedMedia {
    this.closePart(sha)
    const path = this.path(sha)
    return {
      sha256: sha,
      size,
      mime,
      path,
      stream: () => createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Uint8Array>
    }
  }

  async remove (sha: string): Promise<void> {
    this.closePart(sha)
    // Usually gone already (the store renamed it into place). Asked first: an unlink that fails builds
    // an exception, several times the cost of the question, for each of a transfer's 100k+ photos.
    const path = this.path(sha)
    if (!existsSync(path)) return
    try {
      unlinkSync(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw storeError(err, `removing partial media ${sha}`)
    }
  }

  async list (): Promise<string[]> {
    try {
      return readdirSync(this.root).filter(n => n.endsWith('.part')).map(n => n.slice(0, -'.part'.length)).filter(s => SHA256_HEX.test(s))
    } catch (err) {
      throw storeError(err, `listing ${this.root}`)
    }
  }

  close (): void {
    this.closePart()
  }
}
