import { logger, type Logger } from '@libp2p/logger'
import { createHash, randomUUID } from 'node:crypto'
import {
  close, closeSync, constants, fsync, fsyncSync, mkdirSync, openSync, readSync,
  readdirSync, renameSync, rmSync, statSync, write, writeSync
} from 'node:fs'
import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { fsyncDir } from '../durable-fs.js'
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-files.js'
import { childPath } from '../child-path.js'
import { AddingList } from './adding-list.js'
import { GroupSync } from './group-sync.js'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { storeFolderError } from '../fs-errors.js'
import { readStream } from '../read-stream.js'
import { isHashHex } from '../hash-hex.js'

// A content-addressed folder: a file's name is the sha256 of its bytes, fanned out by the first two hex
// digits (media/ab/abcdef...) so no directory grows past a few thousand entries. A file appears under its
// name only by an atomic rename after its bytes were hashed and synced, so "present" always means
// "complete and correct"; a file is stored once that rename's directory is synced as well (and the
// fan-out directory's own entry in the root), since a filesystem may lose a rename whose directory was
// not (XFS, btrfs, f2fs after a power cut). Work in progress lives beside the fan-out, never in it: .tmp/
// for local copies and whole received files on their way in (partial ones are the journal's,
// src/journal/node-parts.ts).
// Folders are made 0700 and files 0600 (private-files.ts): the umask can only take bits away from those.



const writeAsync = async (fd: number, data: Uint8Array, offset: number, length: number): Promise<number> =>
  (await promisify(write)(fd, data, offset, length)).bytesWritten
const fsyncAsync = promisify(fsync)
const closeAsync = promisify(close)

export interface MediaDigest {
  sha256: string
  size: number
}

/** Hashes a file as a stream. */
export async function hashFile (path: string): Promise<MediaDigest> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of await readStream(path)) {
    hash.update(chunk)
    size += chunk.byteLength
  }
  return { sha256: hash.digest('hex'), size }
}

/** Throws unless `sha` is a lowercase sha256: it becomes a file name, so nothing else may reach a path. */
export function assertSha256 (sha: string): void {
  if (!isHashHex(sha)) throw new FerryError(ErrorCode.BAD_INPUT, `not a lowercase sha256: '${sha.slice(0, 80)}'`)
}

/** Promotions in flight at once (each waits for its data to reach the disk, then its rename). */
const MAX_PROMOTING = 8192

export class MediaFolder {
  readonly root: string
  private readonly tmpDir: string
  /** One open file for readMedia: the sender reads a file chunk after chunk, not a chunk per open. */
  private reader?: { sha: string, fd: number }
  /** Files promoted but not yet under their name, which count as present meanwhile. */
  private readonly promoting = new Set<string>()
  /** Of those, each one's promotion (adopt), for named(). */
  private readonly arriving = new Map<string, Promise<void>>()
  /** flush() calls waiting for `promoting` to empty. */
  private idle: Array<() => void> = []
  /** Fan-out directories made (or found) by this process, by their two hex digits. */
  private readonly fanouts = new Map<string, string>()
  /**
   * Of those, the ones whose entry in the root is not yet known to be on disk: a directory found here
   * may have been made by a process killed before it synced the root.
   */
  private readonly unsyncedFanouts = new Set<string>()
  /** Of those, the ones whose root sync is queued with a group (not yet done). */
  private readonly queuedFanouts = new Set<string>()
  private readonly durability: GroupSync
  /** Files about to be added whose records are not committed yet (see adding-list.ts). */
  readonly adding: AddingList

  private readonly log: Logger

  /** `readOnly`: a reader's folder, which creates nothing (see SqliteChatStore's OpenOptions); `log`: the store's. */
  constructor (root: string, o: { readOnly?: boolean, log?: Logger } = {}) {
    this.log = o.log ?? logger('ferry:store')
    this.root = resolve(root)
    this.tmpDir = join(this.root, '.tmp')
    this.durability = new GroupSync(this.root)
    this.adding = new AddingList(this.tmpDir)
    if (o.readOnly === true) return
    try {
      mkdirSync(this.tmpDir, { recursive: true, mode: PRIVATE_DIR_MODE })
      this.dropLeftovers()
    } catch (err) {
      throw storeError(err, `creating the media folder ${this.root}`)
    }
  }

  /**
   * Copies a killed process left in .tmp (an import stopped mid-file): only the one process that holds
   * the store (store-lock.ts) makes this folder, so whatever is there now belongs to none.
   */
  private dropLeftovers (): void {
    for (const name of readdirSync(this.tmpDir)) if (name.endsWith('.tmp')) rmSync(join(this.tmpDir, name), { force: true })
  }

  path (sha: string): string {
    assertSha256(sha)
    return childPath(childPath(this.root, sha.slice(0, 2)), sha)
  }

  /** Size of the complete file, or undefined when it is not here. */
  size (sha: string): number | undefined {
    const st = statSync(this.path(sha), { throwIfNoEntry: false })
    return st?.isFile() === true ? st.size : undefined
  }

  /**
   * Waits until the file on its way in (adopt) under `sha` has its name, or failed to get it, its
   * group flushed now rather than when it fills; undefined when none is on its way in.
   */
  named (sha: string): Promise<void> | undefined {
    const arriving = this.arriving.get(sha)
    if (arriving === undefined) return undefined
    this.durability.now()
    return arriving.catch(() => {})
  }

  has (sha: string): boolean {
    return this.promoting.has(sha) || this.size(sha) !== undefined
  }

  /** Whether the file is here with `size` bytes (a file on its way in was checked whole). */
  whole (sha: string, size: number): boolean {
    return this.promoting.has(sha) || this.size(sha) === size
  }

  /**
   * A `has` for many lookups in sha256 order: one listing of each fan-out directory instead of a stat
   * per file (a stat per file of a large history held up each phone before its first message).
   * Lookups out of order stay correct; they only list a directory again.
   */
  presence (): (sha: string) => boolean {
    let dir: string | undefined
    let names = new Set<string>()
    return sha => {
      if (this.promoting.has(sha)) return true
      const d = sha.slice(0, 2)
      if (d !== dir) {
        dir = d
        names = new Set(this.listFiles(d))
      }
      return names.has(sha)
    }
  }

  private listFiles (fanout: string): string[] {
    try {
      return readdirSync(join(this.root, fanout), { withFileTypes: true }).filter(e => e.isFile()).map(e => e.name)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw storeError(err, `listing the media folder ${this.root}`)
    }
  }

  /**
   * Reads into `into` when given (at least `length` bytes), else into a new buffer. A file gone since its
   * record was read (the app deleted it while a backup or a send runs) reads as one with no bytes, as a
   * file cut short does: the sender sends it padded, and the receiving phone leaves it out, counted as
   * damaged, rather than the whole backup or transfer failing for it.
   */
  read (sha: string, offset: number, length: number, into?: Uint8Array): Uint8Array {
    try {
      const fd = this.readerFor(sha)
      if (fd === undefined) return new Uint8Array(0)
      const buf = into ?? Buffer.allocUnsafe(length)
      let filled = 0
      while (filled < length) {
        const n = readSync(fd, buf, filled, length - filled, offset + filled)
        if (n === 0) break
        filled += n
      }
      return filled === buf.byteLength ? buf : buf.subarray(0, filled)
    } catch (err) {
      throw storeError(err, `reading media ${sha}`)
    }
  }

  /** The open file for `sha`, or undefined when there is none. */
  private readerFor (sha: string): number | undefined {
    if (this.reader?.sha === sha) return this.reader.fd
    this.closeReader()
    let fd: number
    try {
      fd = openSync(this.path(sha), 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.log.error('media %s is gone from %s since its record was read: read as empty', sha, this.root)
        return undefined
      }
      throw err
    }
    this.reader = { sha, fd }
    return fd
  }

  private closeReader (): void {
    if (this.reader !== undefined) closeSync(this.reader.fd)
    this.reader = undefined
  }

  close (): void {
    this.closeReader()
    this.durability.close()
  }

  /**
   * Streams bytes into the folder, hashing as they pass, and files them under their sha256. With `expect`,
   * a mismatch throws (SIZE_MISMATCH / HASH_MISMATCH) and nothing is added. Never holds the content whole.
   */
  async write (chunks: AsyncIterable<Uint8Array>, expect?: MediaDigest): Promise<MediaDigest> {
    const tmp = join(this.tmpDir, `${randomUUID()}.tmp`)
    let fd: number | undefined
    try {
      // Names are made only by synchronous calls (the new file in .tmp, the rename under its sha256): a
      // process stopped with Ctrl-C cleans the folder in a signal handler, which runs between them, and
      // an asynchronous one still on the thread pool would make its name after that cleanup.
      fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, PRIVATE_FILE_MODE)
      const hash = createHash('sha256')
      let size = 0
      for await (const chunk of chunks) {
        hash.update(chunk)
        size += chunk.byteLength
        if (expect !== undefined && size > expect.size) {
          throw new FerryError(ErrorCode.SIZE_MISMATCH, `more than the expected ${expect.size} bytes`)
        }
        let done = 0
        while (done < chunk.byteLength) done += await writeAsync(fd, chunk, done, chunk.byteLength - done)
      }
      const sha256 = hash.digest('hex')
      if (expect !== undefined && size !== expect.size) {
        throw new FerryError(ErrorCode.SIZE_MISMATCH, `${size} bytes, expected ${expect.size}`)
      }
      if (expect !== undefined && sha256 !== expect.sha256) {
        throw new FerryError(ErrorCode.HASH_MISMATCH, `sha256 is ${sha256}, expected ${expect.sha256}`)
      }
      await fsyncAsync(fd)
      const done = fd
      fd = undefined
      await closeAsync(done)
      const dir = this.fanout(sha256)
      this.syncFanoutEntry(sha256)
      this.moveIntoPlace(tmp, childPath(dir, sha256))
      fsyncDir(dir)
      return { sha256, size }
    } catch (err) {
      if (fd !== undefined) await closeAsync(fd).catch(() => {})
      await rm(tmp, { force: true }).catch(() => {})
      throw storeFolderError(err, 'writing media', this.root)
    }
  }

  /** Copies a file into the folder (hashing it on the way); see write(). */
  async addFile (source: string, expect?: MediaDigest): Promise<MediaDigest> {
    try {
      return await this.write(await readStream(source), expect)
    } catch (err) {
      if (err instanceof FerryError) throw new FerryError(err.code, `${source}: ${err.message}`, err.details, { cause: err.cause ?? err })
      throw err
    }
  }

  /** Removes a complete file (an import that failed after copying undoes what it added). */
  remove (sha: string): void {
    if (this.reader?.sha === sha) this.closeReader()
    rmSync(this.path(sha), { force: true })
  }

  /**
   * The fan-out directory of a sha, created when missing (at most 256 of them: each made once per
   * process). Its entry in the root is synced once per process, by syncFanoutEntry or with a group.
   */
  private fanout (sha: string): string {
    const digits = sha.slice(0, 2)
    let dir = this.fanouts.get(digits)
    if (dir === undefined) {
      dir = childPath(this.root, digits)
      try {
        mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
      } catch (err) {
        throw storeFolderError(err, 'storing media', this.root)
      }
      this.fanouts.set(digits, dir)
      this.unsyncedFanouts.add(digits)
    }
    return dir
  }

  /** Syncs the root now if the sha's fan-out directory's entry in it may not be on disk yet. */
  private syncFanoutEntry (sha: string): void {
    if (this.unsyncedFanouts.size === 0 || !this.unsyncedFanouts.has(sha.slice(0, 2))) return
    fsyncDir(this.root)
    this.unsyncedFanouts.clear()
    this.queuedFanouts.clear()
  }

  /**
   * Queues the root's sync with the next group when the sha's fan-out directory's entry may not be on
   * disk yet: queued before the file's own flush, it is done before the file's name is.
   */
  private queueFanoutEntry (sha: string): void {
    const digits = sha.slice(0, 2)
    if (this.unsyncedFanouts.size === 0 || !this.unsyncedFanouts.has(digits) || this.queuedFanouts.has(digits)) return
    const queued = [...this.unsyncedFanouts].filter(d => !this.queuedFanouts.has(d))
    for (const d of queued) this.queuedFanouts.add(d)
    this.durability.whenNamed(this.root, () => {
      for (const d of queued) { this.unsyncedFanouts.delete(d); this.queuedFanouts.delete(d) }
    })
  }

  // ---- taking in received files ------------------------------------------------------------------------

  /**
   * Takes a complete, checked file at `path` (on this file system) under its content-addressed name: its
   * data on disk first, then the rename, so a name never points at bytes a power cut could lose. The
   * flush is grouped with other files' (GroupSync: one fsync per photo made the receiver wait on the disk
   * for most of a photo-heavy transfer), so the promise resolves when the group's flush, the rename and
   * the sync of the rename's directory are done; callers keep many in flight. Until then the file counts
   * as present.
   */
  async adopt (path: string, sha: string): Promise<void> {
    // The name becomes a path: nothing but a sha256 may reach it (see assertSha256).
    assertSha256(sha)
    const dir = this.fanout(sha)
    const target = childPath(dir, sha)
    if (this.promoting.size >= MAX_PROMOTING) {
      // Backpressure on memory: past the cap, this one is done in line.
      const fd = openSync(path, 'r')
      try { fsyncSync(fd) } finally { closeSync(fd) }
      this.syncFanoutEntry(sha)
      this.moveIntoPlace(path, target)
      fsyncDir(dir)
      return
    }
    this.promoting.add(sha)
    this.queueFanoutEntry(sha)
    let arriving: Promise<void> | undefined
    try {
      arriving = new Promise<void>((resolve, reject) => {
        // The rename is synchronous, right after its group's flush: on the thread pool each one cost more
        // CPU across threads and a promise chain, and a photo-heavy phone promotes 100k+ files. Its
        // directory is synced with the next group (once for all the files renamed into it meanwhile).
        this.durability.whenDurable(path, err => {
          try {
            if (err !== undefined) throw err
            this.moveIntoPlace(path, target)
            this.durability.whenNamed(dir, resolve)
          } catch (e) {
            reject(storeFolderError(e, `storing media ${sha}`, this.root))
          }
        })
      })
      this.arriving.set(sha, arriving)
      await arriving
    } finally {
      if (this.arriving.get(sha) === arriving) this.arriving.delete(sha)
      this.promoting.delete(sha)
      if (this.promoting.size === 0) for (const wake of this.idle.splice(0)) wake()
    }
  }

  /** Takes a whole file's bytes (read at once: the caller may reuse them when this returns its promise). */
  async adoptBytes (sha: string, data: Uint8Array): Promise<void> {
    assertSha256(sha)
    const tmp = join(this.tmpDir, `${randomUUID()}.tmp`)
    try {
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, PRIVATE_FILE_MODE)
      try {
        let done = 0
        while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, done)
      } finally {
        closeSync(fd)
      }
    } catch (err) {
      rmSync(tmp, { force: true })
      throw storeFolderError(err, `storing media ${sha}`, this.root)
    }
    await this.adopt(tmp, sha)
  }

  private moveIntoPlace (part: string, target: string): void {
    try { renameSync(part, target) } catch (err) { if (!this.lostFanout(err, target)) throw err; renameSync(part, target) }
  }

  /** After ENOENT on a rename into `target`: true when its fan-out directory was removed under us (now re-made). */
  private lostFanout (err: unknown, target: string): boolean {
    if ((err as NodeJS.ErrnoException)?.code !== 'ENOENT') return false
    const dir = join(target, '..')
    if (statSync(dir, { throwIfNoEntry: false }) !== undefined) return false
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
    fsyncDir(this.root)
    return true
  }

  /** Waits until every file taken in has its name. */
  async flush (): Promise<void> {
    this.durability.now()
    if (this.promoting.size > 0) await new Promise<void>(resolve => this.idle.push(resolve))
  }
}
