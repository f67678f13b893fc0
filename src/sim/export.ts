import { logger } from '@libp2p/logger'
import { chmodSync, closeSync, constants, copyFileSync, lstatSync, openSync, renameSync, rmSync, write } from 'node:fs'
import { open } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import type { Writable } from 'node:stream'
import { ErrorCode, FerryError, isFerryError, storeError } from '../errors.js'
import { fsError, makeFolders } from '../fs-errors.js'
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-files.js'
import type { HistorySource } from '../store/history.js'
import { compareStrings } from '../store/model.js'
import { toLine } from './ndjson.js'

const log = logger('ferry:export')

/** A source that can name a media file on disk (the SQLite store): export clones it rather than reading it. */
type ExportSource = HistorySource & { mediaPath?: (sha256: string) => string }

export interface ExportOptions {
  /** Copy every media file the store holds into this directory (named by sha256) and emit its `path`. */
  mediaDir?: string
  /** The directory `path` values are relative to: the NDJSON file's own (default: the current directory). */
  relativeTo?: string
  /**
   * The caller's last steps once every line is written (ending its file, renaming it into place): a
   * failure there fails the export too, and takes away the media it copied.
   */
  complete?: () => Promise<void>
  /**
   * Handed, once media copying begins, what takes this export's copies away again at once (what was in
   * the folder before stays), returning how many files it removed: a process stopped with Ctrl-C calls
   * it from its signal handler and exits, rather than wait for the export to fail.
   */
  onMediaCopying?: (removeCopies: () => number) => void
  /** Awaited after each media file copied: tests hold an export there, some of its media copied. */
  afterMediaCopy?: () => Promise<void>
}

export interface ExportResult {
  contacts: number
  conversations: number
  media: number
  /** Media files copied to mediaDir. */
  mediaFiles: number
  messages: number
  bytes: number
}

/** Lines are coalesced into writes of about this size: one write per line would dominate the export. */
const WRITE_BYTES = 64 * 1024

/**
 * Writes a store as canonical NDJSON: contacts by id, conversations by id, media by sha256, messages by
 * (conversation, ts, id), each line in the format's fixed field order. Equal content gives equal bytes.
 * Respects `out`'s backpressure and does not end it (stdout cannot be ended; the caller owns the stream).
 */
export async function exportNdjson (store: ExportSource, out: Writable, options: ExportOptions = {}): Promise<ExportResult> {
  const sink = new LineSink(out)
  const result: ExportResult = { contacts: 0, conversations: 0, media: 0, mediaFiles: 0, messages: 0, bytes: 0 }
  let copier: MediaCopier | undefined
  try {
    const contacts = (await store.contacts()).sort((a, b) => compareStrings(a.id, b.id))
    result.contacts = await sink.lines(contacts.map(c => toLine('contact', c)))
    const conversations = (await store.conversations()).map(i => i.conversation).sort((a, b) => compareStrings(a.id, b.id))
    result.conversations = await sink.lines(conversations.map(c => toLine('conversation', c)))
    copier = options.mediaDir === undefined ? undefined : MediaCopier.create(store, options.mediaDir, options.relativeTo)
    if (copier !== undefined) options.onMediaCopying?.(copier.remove)
    for (let after: string | undefined; ;) {
      const page = await store.media(after, PAGE)
      for (const { stored, ...m } of page) {
        const path = stored ? await copier?.copy(m.sha256, m.size) : undefined
        if (path !== undefined) {
          result.mediaFiles++
          await options.afterMediaCopy?.()
        }
        await sink.lines([toLine('media', path === undefined ? m : { ...m, path })])
        result.media++
      }
      if (page.length < PAGE) break
      after = page[page.length - 1].sha256
    }
    for (const c of conversations) {
      for (let after: { ts: number, id: string } | undefined; ;) {
        const page = await store.messages(c.id, after, PAGE)
        result.messages += await sink.lines(page.map(m => toLine('message', m)))
        if (page.length < PAGE) break
        after = page[page.length - 1]
      }
    }
    await sink.flush()
    await options.complete?.()
  } catch (err) {
    const removed = copier?.remove() ?? 0
    // Said, so nobody goes looking for the rest of a partial export.
    if (removed === 0) throw err
    // A failure of the write itself (a full disk) is said as the store's errors are, with the removal.
    const e = isFerryError(err) ? err : storeError(err, 'writing the export')
    throw new FerryError(e.code, `${e.message}. The export failed: the ${removed === 1 ? 'media file' : `${removed} media files`} it had ` +
      `copied into ${options.mediaDir} ${removed === 1 ? 'was' : 'were'} removed again (what was there before is kept)`, e.details, { cause: err })
  } finally {
    sink.release()
  }
  result.bytes = sink.bytes
  return result
}

/** Records or messages per read. */
const PAGE = 1024

/**
 * Copies media files beside the export and names them relative to the NDJSON file. Keeps what it
 * created, so that a failed export takes it away again: half the media in a folder reads as a complete
 * export to whoever finds it. What was there before stays.
 */
class MediaCopier {
  /** Files this export added to the folder (not those it replaced by the same bytes). */
  private readonly created: string[] = []
  /** The copy being made, before its rename. */
  private copying?: string
  /** Cleared once a clone fails for want of the filesystem's support: the others would fail as well. */
  private clones = true

  private constructor (
    private readonly store: ExportSource, private readonly dir: string, private readonly base: string,
    /** The outermost folder this export created, when it created any. */
    private readonly createdDir: string | undefined
  ) {}

  static create (store: ExportSource, mediaDir: string, relativeTo = '.'): MediaCopier {
    const dir = resolve(mediaDir)
    let createdDir: string | undefined
    try {
      createdDir = makeFolders(dir, PRIVATE_DIR_MODE)
    } catch (err) {
      throw fsError(err, `cannot create the media folder ${mediaDir}`, mediaDir)
    }
    return new MediaCopier(store, dir, resolve(relativeTo), createdDir)
  }

  /**
   * Removes what this export added (with a copy under way), and says how many files that was. At once,
   * for a signal handler that exits next. Best effort: the failure or the Ctrl-C that called it is what
   * gets reported.
   */
  readonly remove = (): number => {
    const removeQuietly = (path: string, recursive = false): void => {
      try { rmSync(path, { recursive, force: true }) } catch (err) { log.error('removing %s: %s', path, (err as Error).message) }
    }
    if (this.copying !== undefined) removeQuietly(this.copying)
    if (this.createdDir !== undefined) removeQuietly(this.createdDir, true)
    else for (const f of this.created) removeQuietly(f)
    const removed = this.created.length
    this.created.length = 0
    return removed
  }

  /** The file's path for the NDJSON line (with '/' on every platform). */
  async copy (sha256: string, size: number): Promise<string> {
    const dest = join(this.dir, sha256)
    const tmp = `${dest}.${process.pid}.tmp`
    try {
      // Into a new file (EXCL), made private, then renamed over any earlier copy: never written through a
      // symlink at `dest`. Names are made only by synchronous calls: a Ctrl-C's handler runs between them,
      // so it finds each file either known to remove() or not made, never made by a call still on the
      // thread pool after it.
      const from = this.store.mediaPath?.(sha256)
      if (from === undefined || !this.copyAtOnce(from, tmp, size)) {
        const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, PRIVATE_FILE_MODE)
        // Awaited reads and writes follow, between which a Ctrl-C may come: it takes this file too.
        this.copying = tmp
        try {
          await copyBytes(from === undefined ? async (offset, length) => await this.store.readMedia(sha256, offset, length) : from, fd, size)
        } finally {
          closeSync(fd)
        }
      }
      let isNew = true
      try { isNew = lstatSync(dest, { throwIfNoEntry: false }) === undefined } catch {}
      try {
        renameSync(tmp, dest)
      } catch (err) {
        // Failing here is the folder's doing (a folder or a read-only file where the copy goes): said so.
        throw fsError(err, `cannot copy media into ${this.dir}`, dest)
      }
      this.copying = undefined
      if (isNew) this.created.push(dest)
    } catch (err) {
      this.copying = undefined
      try { rmSync(tmp, { force: true }) } catch {}
      throw storeError(err, `copying media ${sha256} to ${this.dir}`)
    }
    return relative(this.base, dest).split(sep).join('/')
  }

  /**
   * Copies a file in one synchronous call, where that ends at once: a small file, or a clone where the
   * filesystem makes one (copy-on-write: no bytes move, whatever the size). False when a large file
   * cannot be cloned: its bytes are to be copied piece by piece, as one synchronous copy of a video
   * would hold a Ctrl-C until its end.
   */
  private copyAtOnce (from: string, tmp: string, size: number): boolean {
    if (size <= COPY_PIECE_BYTES) {
      copyFileSync(from, tmp, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL)
    } else {
      if (!this.clones) return false
      try {
        copyFileSync(from, tmp, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL)
      } catch (err) {
        // Not a filesystem that clones (or not across these two folders): the next file is no different.
        // Any other failure (a source gone, a file where the copy goes) is the piecewise copy's to report.
        if (NO_CLONE.has((err as NodeJS.ErrnoException).code ?? '')) this.clones = false
        return false
      }
    }
    chmodSync(tmp, PRIVATE_FILE_MODE)
    return true
  }
}

/** Larger media files are copied in pieces of this size, so that a Ctrl-C is heard between them. */
const COPY_PIECE_BYTES = 1024 * 1024

/** What a clone fails with where the filesystem cannot make one (no reflink, two filesystems). */
const NO_CLONE = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY'])

/**
 * Copies `size` bytes into `fd`, from a file or from the store's reads, a piece at a time through the
 * thread pool: the event loop stays free, so a Ctrl-C's handler runs (and removes the copy) while a
 * large file is under way, rather than after it.
 */
async function copyBytes (from: string | ((offset: number, length: number) => Promise<Uint8Array>), fd: number, size: number): Promise<void> {
  const file = typeof from === 'string' ? await open(from, 'r') : undefined
  try {
    const buffer = file === undefined ? undefined : Buffer.alloc(Math.min(COPY_PIECE_BYTES, size))
    for (let offset = 0; offset < size;) {
      const length = Math.min(COPY_PIECE_BYTES, size - offset)
      let piece: Uint8Array
      if (file !== undefined && buffer !== undefined) {
        const { bytesRead } = await file.read(buffer, 0, length, offset)
        piece = buffer.subarray(0, bytesRead)
      } else {
        piece = await (from as (offset: number, length: number) => Promise<Uint8Array>)(offset, length)
      }
      if (piece.byteLength === 0) throw new Error(`the store holds fewer bytes than its record's ${size}`)
      for (let done = 0; done < piece.byteLength;) done += await writeAt(fd, piece.subarray(done), offset + done)
      offset += piece.byteLength
    }
  } finally {
    await file?.close()
  }
}

/** One write at a position, through the thread pool. */
async function writeAt (fd: number, bytes: Uint8Array, position: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    write(fd, bytes, 0, bytes.byteLength, position, (err, written) => { if (err === null) resolve(written); else reject(err) })
  })
}

/** Buffers lines and writes them with backpressure, surfacing the stream's errors (EPIPE...) as a rejection. */
class LineSink {
  bytes = 0
  private buffer: string[] = []
  private buffered = 0
  private failure?: Error
  private readonly onError = (err: Error): void => { this.failure ??= err }

  constructor (private readonly out: Writable) {
    out.on('error', this.onError)
  }

  /** Buffers lines, flushing whenever a write's worth has gathered; returns how many there were. */
  async lines (lines: string[]): Promise<number> {
    let n = 0
    for (const text of lines) {
      this.buffer.push(text, '\n')
      this.buffered += text.length + 1
      n++
      // Awaiting only when a write is due keeps the per-line cost free of promise turns.
      if (this.buffered >= WRITE_BYTES) await this.flush()
    }
    return n
  }

  async flush (): Promise<void> {
    this.check()
    if (this.buffer.length === 0) return
    const chunk = this.buffer.join('')
    this.buffer = []
    this.buffered = 0
    this.bytes += Buffer.byteLength(chunk)
    if (!this.out.write(chunk)) await this.drained()
    this.check()
  }

  private async drained (): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => {
        this.out.off('drain', done)
        this.out.off('close', done)
        this.out.off('error', done)
        resolve()
      }
      this.out.on('drain', done)
      this.out.on('close', done)
      this.out.on('error', done)
    })
  }

  private check (): void {
    if (this.failure !== undefined) throw storeError(this.failure, 'writing the export')
    if (this.out.destroyed) throw new FerryError(ErrorCode.STORE, 'writing the export: the output was closed')
  }

  release (): void {
    this.out.off('error', this.onError)
  }
}
