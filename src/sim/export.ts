import { logger } from '@libp2p/logger'
import { createHash } from 'node:crypto'
import { chmodSync, closeSync, constants, copyFileSync, lstatSync, openSync, read, readSync, renameSync, rmSync, statSync, truncateSync, write, writeSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import type { Writable } from 'node:stream'
import { ErrorCode, FerryError, isFerryError, storeError } from '../errors.js'
import { fsError, makeFolders } from '../fs-errors.js'
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-files.js'
import type { HistorySource } from '../store/history.js'
import { hashFile, type MediaDigest } from '../store/media-folder.js'
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
  /**
   * Told how far the export is, after each media file (copied or left out) and each page of messages:
   * copying a phone's media takes long enough that a person wants to see it moving.
   */
  onProgress?: (p: ExportProgress) => void
}

/** How far an export is: messages written, and the bytes of the media files it has been through (with mediaDir). */
export interface ExportProgress {
  messages: number
  totalMessages: number
  mediaBytes: number
  totalMediaBytes: number
}

export interface ExportResult {
  contacts: number
  conversations: number
  media: number
  /** Media files copied to mediaDir. */
  mediaFiles: number
  /**
   * With mediaDir, files left out because the store's copy is not the file its record names (a bad
   * sector, a file cut short): their lines have no `path`, so an import stores them as missing.
   */
  mediaFilesDamaged: number
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
  const result: ExportResult = { contacts: 0, conversations: 0, media: 0, mediaFiles: 0, mediaFilesDamaged: 0, messages: 0, bytes: 0 }
  let copier: MediaCopier | undefined
  try {
    const contacts = (await store.contacts()).sort((a, b) => compareStrings(a.id, b.id))
    result.contacts = await sink.lines(contacts.map(c => toLine('contact', c)))
    const infos = await store.conversations()
    const conversations = infos.map(i => i.conversation).sort((a, b) => compareStrings(a.id, b.id))
    result.conversations = await sink.lines(conversations.map(c => toLine('conversation', c)))
    copier = options.mediaDir === undefined ? undefined : MediaCopier.create(store, options.mediaDir, options.relativeTo)
    if (copier !== undefined) options.onMediaCopying?.(copier.remove)
    const progress: ExportProgress = {
      messages: 0,
      totalMessages: infos.reduce((n, i) => n + i.messages, 0),
      mediaBytes: 0,
      totalMediaBytes: copier === undefined || options.onProgress === undefined ? 0 : await storedMediaBytes(store)
    }
    options.onProgress?.(progress)
    for (let after: string | undefined; ;) {
      const page = await store.media(after, PAGE)
      for (const { stored, ...m } of page) {
        const copied = stored ? await copier?.copy(m.sha256, m.size) : undefined
        if (copied !== undefined) {
          progress.mediaBytes += m.size
          options.onProgress?.(progress)
        }
        let path: string | undefined
        if (copied === 'damaged') result.mediaFilesDamaged++
        else if (copied !== undefined && copied !== 'missing') {
          path = copied
          result.mediaFiles++
          await options.afterMediaCopy?.()
        }
        // A file left out leaves its line without `path`, as one the store lacks: imported, shown as missing.
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
        progress.messages = result.messages
        options.onProgress?.(progress)
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

/** The bytes of the media files the store holds (not those it only has records of): what --media copies. */
async function storedMediaBytes (store: ExportSource): Promise<number> {
  let bytes = 0
  for (let after: string | undefined; ;) {
    const page = await store.media(after, PAGE)
    for (const m of page) if (m.stored) bytes += m.size
    if (page.length < PAGE) return bytes
    after = page[page.length - 1].sha256
  }
}

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

  /**
   * Copies one file, checking its bytes against its record as they pass (each byte is read once): the
   * file's path for the NDJSON line (with '/' on every platform), or what kept it out. A copy that is
   * not the file its record names (a bad sector, a file cut short) is left out, as is one the app
   * deleted since its record was read: in an export it would make the whole export refused on import,
   * and left out, its message still imports, its media shown as missing.
   */
  async copy (sha256: string, size: number): Promise<string | LeftOut> {
    const dest = join(this.dir, sha256)
    const tmp = `${dest}.${process.pid}.tmp`
    const from = this.store.mediaPath?.(sha256)
    let source: number | undefined
    try {
      try {
        if (from !== undefined) source = openSync(from, 'r')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          log('media %s is gone from the store since its record was read: left out', sha256)
          return 'missing'
        }
        throw err
      }
      // Into a new file (EXCL), made private, then renamed over any earlier copy: never written through a
      // symlink at `dest`. Names are made only by synchronous calls: a Ctrl-C's handler runs between them,
      // so it finds each file either known to remove() or not made, never made by a call still on the
      // thread pool after it.
      let copied: MediaDigest
      if (from !== undefined && source !== undefined && size <= COPY_PIECE_BYTES) {
        copied = copySmall(source, tmp, size)
      } else if (from !== undefined && this.cloneLarge(from, tmp)) {
        // No bytes moved: reading the clone is reading the store's file, once. A file grown past its
        // record holds it whole all the same, as its first bytes: what a transfer sends of it too.
        this.copying = tmp
        if (statSync(tmp).size > size) truncateSync(tmp, size)
        copied = await hashFile(tmp)
      } else {
        const fd = openSync(tmp, NEW_FILE, PRIVATE_FILE_MODE)
        // Awaited reads and writes follow, between which a Ctrl-C may come: it takes this file too.
        this.copying = tmp
        try {
          copied = await copyBytes(source ?? (async (offset, length) => await this.store.readMedia(sha256, offset, length)), fd, size)
        } finally {
          closeSync(fd)
        }
      }
      if (copied.size !== size || copied.sha256 !== sha256) {
        log.error('media %s in the store is damaged (%d bytes, sha256 %s, its record says %d bytes): left out of the export', sha256, copied.size, copied.sha256, size)
        this.copying = undefined
        rmSync(tmp, { force: true })
        return 'damaged'
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
    } finally {
      if (source !== undefined) closeSync(source)
    }
    return relative(this.base, dest).split(sep).join('/')
  }

  /**
   * Clones a large file in one synchronous call, where the filesystem makes one (copy-on-write: no
   * bytes move, whatever the size). False when it cannot: its bytes are to be copied piece by piece, as
   * one synchronous copy of a video would hold a Ctrl-C until its end.
   */
  private cloneLarge (from: string, tmp: string): boolean {
    if (!this.clones) return false
    try {
      copyFileSync(from, tmp, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL)
    } catch (err) {
      // Not a filesystem that clones (or not across these two folders): the next file is no different.
      // Any other failure (a file where the copy goes) is the piecewise copy's to report.
      if (NO_CLONE.has((err as NodeJS.ErrnoException).code ?? '')) this.clones = false
      return false
    }
    chmodSync(tmp, PRIVATE_FILE_MODE)
    return true
  }
}

/** What kept a file out of an export: its copy was not the file its record names, or it was gone. */
export type LeftOut = 'damaged' | 'missing'

/** A copy's file: new (never one through a symlink at its name), written only. */
const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** Larger media files are copied in pieces of this size, so that a Ctrl-C is heard between them. */
const COPY_PIECE_BYTES = 1024 * 1024

/** What a clone fails with where the filesystem cannot make one (no reflink, two filesystems). */
const NO_CLONE = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY'])

/**
 * Copies a small file's first `size` bytes (all a transfer sends of it too) in synchronous calls: a
 * Ctrl-C's handler finds the copy made or not.
 */
function copySmall (source: number, tmp: string, size: number): MediaDigest {
  const buffer = Buffer.allocUnsafe(size)
  let length = 0
  for (let n; length < buffer.byteLength && (n = readSync(source, buffer, length, buffer.byteLength - length, length)) > 0;) length += n
  const bytes = buffer.subarray(0, length)
  const copied = { sha256: createHash('sha256').update(bytes).digest('hex'), size: length }
  if (length < size) return copied
  const fd = openSync(tmp, NEW_FILE, PRIVATE_FILE_MODE)
  try {
    for (let done = 0; done < length;) done += writeSync(fd, bytes, done, length - done)
  } finally {
    closeSync(fd)
  }
  return copied
}

/**
 * Copies `size` bytes into `fd`, from an open file or from the store's reads, a piece at a time through
 * the thread pool, hashing them: the event loop stays free, so a Ctrl-C's handler runs (and removes the
 * copy) while a large file is under way, rather than after it. What it copied, a file found short
 * included (its size then says so); bytes past `size` are not read.
 */
async function copyBytes (from: number | ((offset: number, length: number) => Promise<Uint8Array>), fd: number, size: number): Promise<MediaDigest> {
  const hash = createHash('sha256')
  const buffer = typeof from === 'number' ? Buffer.alloc(Math.min(COPY_PIECE_BYTES, size)) : undefined
  let offset = 0
  while (offset < size) {
    const length = Math.min(COPY_PIECE_BYTES, size - offset)
    const piece = typeof from === 'number' && buffer !== undefined
      ? buffer.subarray(0, await readAt(from, buffer, length, offset))
      : await (from as (offset: number, length: number) => Promise<Uint8Array>)(offset, length)
    if (piece.byteLength === 0) break
    hash.update(piece)
    for (let done = 0; done < piece.byteLength;) done += await writeAt(fd, piece.subarray(done), offset + done)
    offset += piece.byteLength
  }
  return { sha256: hash.digest('hex'), size: offset }
}

/** One read at a position, through the thread pool. */
async function readAt (fd: number, into: Uint8Array, length: number, position: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    read(fd, into, 0, length, position, (err, n) => { if (err === null) resolve(n); else reject(err) })
  })
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
