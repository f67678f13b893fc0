import {
  closeSync, constants, createReadStream, existsSync, fstatSync, ftruncateSync, openSync, readdirSync, statSync, unlinkSync, writeSync
} from 'node:fs'
import { resolve } from 'node:path'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import type { ReceivedMedia } from '../store/history.js'
import type { PartFiles } from './journal.js'
import { makePrivateDir, PRIVATE_FILE_MODE } from '../private-files.js'
import { childPath } from '../child-path.js'
import { DirectWriter } from './direct-writes.js'
import { isHashHex } from '../hash-hex.js'

/** The largest chunk written direct; larger ones (no sender sends them) go through the page cache. */
const DIRECT_STAGE_BYTES = 256 * 1024
/** Direct writes landing at once. */
const DIRECT_WRITES = 16
/** Smaller writes go through the page cache: the disk's round trip would outweigh the copy. */
const DIRECT_MIN_BYTES = 64 * 1024

function checkSha (sha: string): void {
  if (!isHashHex(sha)) throw new FerryError(ErrorCode.BAD_INPUT, `not a lowercase sha256: '${sha.slice(0, 80)}'`)
}

interface OpenPart {
  sha: string
  fd: number
  /** The same file opened for direct writes, once one is. */
  direct?: number
  /** Where its writes end, those landing included. */
  end: number
  /** Where the first direct write that failed began: what the part holds from there may have holes. */
  failedAt?: number
}

/**
 * Partial media files on Node, one `<sha256>.part` each, its size its committed length: writes go in
 * order at the end, and one a kill cuts short leaves a prefix of its bytes. No fsync per write: a killed
 * process loses nothing the kernel holds, and after a power cut a length whose bytes never reached the
 * disk shows as a sha256 mismatch when the file completes, so that one file is fetched again. The store
 * syncs a file before it takes it under its name (HistorySink.putMedia).
 *
 * Whole-block chunks are written past the page cache on the thread pool where the filesystem allows it
 * (direct-writes.ts), several landing at once; a file's last, partial chunk and small files go through
 * the page cache once those have landed. A killed process still leaves a prefix: the pool takes writes
 * in order, and one the kernel has taken completes although the process is gone (were a kill ever to
 * leave a hole, the file's sha256 at its end refuses it and it is fetched again). A direct write that
 * fails cuts the part where it began.
 */
export class NodePartFiles implements PartFiles {
  readonly root: string
  /** Parts arrive one at a time: the one being written stays open, its length known. */
  private openPart?: OpenPart
  /** Direct writes: not yet probed (undefined), refused here (null), or the writer. */
  private direct?: DirectWriter | null
  /** Direct writes not yet landed (these never reject: their writers hear the errors). */
  private readonly landing = new Set<Promise<void>>()
  /** Writes waiting for those to land, in order: each starts after the one before it. */
  private turn: Promise<void> = Promise.resolve()
  private waiting = 0
  private closed = false
  /** Parts handed to the store and not yet removed: the store may still be taking them under their name. */
  private readonly handedOff = new Set<string>()
  /** A caller may start this many writes before the first has settled (PartFiles). */
  readonly writesAtOnce = DIRECT_WRITES

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
    await this.settle()
    return statSync(this.path(sha), { throwIfNoEntry: false })?.size ?? 0
  }

  /**
   * Resolves once the bytes are in the part. Takes them before it returns (into a stage, or a copy when
   * it must wait), so a caller may have up to `writesAtOnce` writes unsettled; they land in order.
   */
  write (sha: string, offset: number, data: Uint8Array): Promise<void> {
    const direct = this.directFor(offset, data.byteLength)
    const now = this.waiting === 0 && (this.landing.size === 0 || (direct?.ready === true && this.openPart?.sha === sha))
    if (now) return this.writeNow(sha, offset, data, direct)
    // Behind writes still landing (or waiting): a copy waits its turn.
    // (A copy: Buffer.slice would be a view of the caller's bytes.)
    const copy = new Uint8Array(data)
    this.waiting++
    const turn = this.turn.then(async () => {
      this.waiting--
      await this.landed()
      await this.writeNow(sha, offset, copy, this.directFor(offset, copy.byteLength))
    })
    this.turn = turn.catch(() => {})
    return turn
  }

  /** Starts a write now: through the page cache (done when it returns) or direct (landing). */
  private writeNow (sha: string, offset: number, data: Uint8Array, direct: DirectWriter | undefined): Promise<void> {
    let part: OpenPart | undefined
    try {
      if (this.closed) throw new FerryError(ErrorCode.STORE, 'the journal is closed')
      part = this.partFor(sha, offset)
      if (direct === undefined) {
        this.writeBuffered(part, offset, data)
        return Promise.resolve()
      }
      part.direct ??= direct.open(this.path(sha))
      const writing = direct.write(part.direct, offset, data)
      part.end = offset + data.byteLength
      const written = part
      const landed: Promise<void> = writing.then(() => {}, () => { written.failedAt = Math.min(written.failedAt ?? offset, offset) })
        .finally(() => { this.landing.delete(landed) })
      this.landing.add(landed)
      return writing.catch(err => { throw this.writeFailed(sha, err) })
    } catch (err) {
      // Through the page cache: what a failed write leaves is a prefix; its length is read again.
      if (part !== undefined && this.landing.size === 0) this.closePart(sha)
      return Promise.reject(this.writeFailed(sha, err))
    }
  }

  private writeFailed (sha: string, err: unknown): Error {
    // A filesystem that refuses a direct write after all is written through the page cache from now on.
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') this.direct = null
    // The file's sha256 is for logs and apps (details), not the person's line: it tells them nothing.
    if (err instanceof FerryError) return err
    const e = storeError(err, 'writing a media file as it arrives')
    return new FerryError(e.code, e.message, { ...e.details, sha256: sha }, { cause: err })
  }

  private writeBuffered (part: OpenPart, offset: number, data: Uint8Array): void {
    let done = 0
    while (done < data.byteLength) done += writeSync(part.fd, data, done, data.byteLength - done, offset + done)
    part.end = offset + data.byteLength
  }

  /** The direct writer, when `length` bytes at `offset` go direct (probing the filesystem once). */
  private directFor (offset: number, length: number): DirectWriter | undefined {
    if (length < DIRECT_MIN_BYTES) return undefined
    if (this.direct === undefined) this.direct = DirectWriter.probe(this.root, DIRECT_STAGE_BYTES, DIRECT_WRITES) ?? null
    return this.direct?.takes(offset, length) === true ? this.direct : undefined
  }

  /** Waits for the writes waiting their turn and those landing. */
  private async settle (): Promise<void> {
    await this.turn
    await this.landed()
  }

  /** Waits for the direct writes landing; a part one of them failed in is cut where that one began. */
  private async landed (): Promise<void> {
    while (this.landing.size > 0) await Promise.all([...this.landing])
    const part = this.openPart
    if (part?.failedAt === undefined) return
    try {
      ftruncateSync(part.fd, part.failedAt)
    } finally {
      this.closePart()
    }
  }

  /**
   * The part, open, cut at `offset` when longer: a part is a prefix of the file, so nothing it held past
   * a write may outlive it.
   */
  private partFor (sha: string, offset: number): OpenPart {
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

  /** Closes the open part; with a write still landing, once it has (its fds must not be reused under it). */
  private closePart (sha?: string): void {
    const part = this.openPart
    if (part === undefined || (sha !== undefined && part.sha !== sha)) return
    this.openPart = undefined
    const close = (): void => {
      closeSync(part.fd)
      if (part.direct !== undefined) closeSync(part.direct)
    }
    if (this.landing.size === 0) close()
    else void Promise.all([...this.landing]).then(close).catch(() => {})
  }

  async truncate (sha: string, length: number): Promise<void> {
    await this.settle()
    try {
      this.closePart(sha)
      // Never through a link planted in the parts folder: the cut would land on the file it names.
      const fd = openSync(this.path(sha), constants.O_WRONLY | constants.O_NOFOLLOW)
      try { ftruncateSync(fd, length) } finally { closeSync(fd) }
    } catch (err) {
      throw storeError(err, `cutting partial media ${sha}`)
    }
  }

  async * read (sha: string, length: number): AsyncGenerator<Uint8Array> {
    await this.settle()
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
    // The store syncs and renames what it is handed: a write still landing could miss that sync.
    if (this.landing.size > 0 || this.waiting > 0) throw new FerryError(ErrorCode.STORE, `partial media ${sha} was handed over while a write to it was landing`)
    this.closePart(sha)
    this.handedOff.add(sha)
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
    await this.settle()
    this.closePart(sha)
    this.handedOff.delete(sha)
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

  beingTaken (sha: string): boolean {
    return this.handedOff.has(sha)
  }

  async list (): Promise<string[]> {
    try {
      return readdirSync(this.root).filter(n => n.endsWith('.part')).map(n => n.slice(0, -'.part'.length)).filter(isHashHex)
    } catch (err) {
      throw storeError(err, `listing ${this.root}`)
    }
  }

  close (): void {
    this.closed = true
    this.closePart()
  }
}
