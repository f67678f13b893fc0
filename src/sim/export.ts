import { constants } from 'node:fs'
import { chmod, copyFile, mkdir, rename, rm } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import type { Writable } from 'node:stream'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-files.js'
import type { ChatStoreReader } from '../store/chat-store.js'
import { toLine } from './ndjson.js'

export interface ExportOptions {
  /** Copy every media file the store holds into this directory (named by sha256) and emit its `path`. */
  mediaDir?: string
  /** The directory `path` values are relative to: the NDJSON file's own (default: the current directory). */
  relativeTo?: string
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
export async function exportNdjson (store: ChatStoreReader, out: Writable, options: ExportOptions = {}): Promise<ExportResult> {
  const sink = new LineSink(out)
  const result: ExportResult = { contacts: 0, conversations: 0, media: 0, mediaFiles: 0, messages: 0, bytes: 0 }
  try {
    result.contacts = await sink.lines(map(store.contacts(), c => toLine('contact', c)))
    result.conversations = await sink.lines(map(store.conversations(), c => toLine('conversation', c)))
    const copier = options.mediaDir === undefined ? undefined : await MediaCopier.create(store, options.mediaDir, options.relativeTo)
    for (const m of store.media()) {
      const path = await copier?.copy(m.sha256)
      if (path !== undefined) result.mediaFiles++
      await sink.lines([toLine('media', path === undefined ? m : { ...m, path })])
      result.media++
    }
    result.messages = await sink.lines(map(store.messages(), m => toLine('message', m)))
    await sink.flush()
  } finally {
    sink.release()
  }
  result.bytes = sink.bytes
  return result
}

function * map<T> (items: Iterable<T>, fn: (item: T) => string): Generator<string> {
  for (const item of items) yield fn(item)
}

/** Copies media files beside the export and names them relative to the NDJSON file. */
class MediaCopier {
  private constructor (private readonly store: ChatStoreReader, private readonly dir: string, private readonly base: string) {}

  static async create (store: ChatStoreReader, mediaDir: string, relativeTo = '.'): Promise<MediaCopier> {
    const dir = resolve(mediaDir)
    try {
      await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
    } catch (err) {
      throw storeError(err, `creating ${dir}`)
    }
    return new MediaCopier(store, dir, resolve(relativeTo))
  }

  /** The file's path for the NDJSON line (with '/' on every platform), or undefined when the store lacks it. */
  async copy (sha256: string): Promise<string | undefined> {
    if (!this.store.hasMediaFile(sha256)) return undefined
    const dest = join(this.dir, sha256)
    const tmp = `${dest}.${process.pid}.tmp`
    try {
      // A clone where the filesystem can (copy-on-write), a copy elsewhere; into a new file (EXCL), made
      // private, then renamed over any earlier copy: never written through a symlink at `dest`.
      await copyFile(this.store.mediaPath(sha256), tmp, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL)
      await chmod(tmp, PRIVATE_FILE_MODE)
      await rename(tmp, dest)
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {})
      throw storeError(err, `copying media ${sha256} to ${this.dir}`)
    }
    return relative(this.base, dest).split(sep).join('/')
  }
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
  async lines (lines: Iterable<string>): Promise<number> {
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
