import { closeSync, fsyncSync, lstatSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { ErrorCode, FerryError, isFerryError, storeError } from '../errors.js'
import { fsError } from '../fs-errors.js'
import { fsyncDir, refuseDirectory, refuseSpecialFile } from '../durable-fs.js'
import { refuseUnknownChats } from '../protocol/selection-check.js'
import { createPrivateFile } from '../private-files.js'
import type { HistorySink, HistorySource } from '../store/history.js'
import type { Selection } from '../store/model.js'
import type { TransferOptions } from '../protocol/options.js'
import { FileSender } from '../protocol/file-sender.js'
import { formerIdsOf } from '../protocol/manifest.js'
import { refuseUnmovableHistory } from '../protocol/manifest-entries.js'
import { ReceiverMachine } from '../protocol/receiver.js'
import { SenderMachine, type SenderProgress } from '../protocol/sender.js'
import { runReceiver, runSender } from '../protocol/session.js'
import { memoryPipe } from '../wire/memory-duplex.js'
import type { Journal } from '../journal/journal.js'
import { BackupSource } from './backup-source.js'
import { prefix, FrameDecoder } from '../wire/framing.js'
import {
  CHECK_BYTES, HEADER_BYTES, MAGIC, PREAMBLE_BYTES, SEGMENT_PREFIX_BYTES, SegmentWriter, TAG_BYTES, cutOff,
  deriveKeys, newHeader, openSegment, parseHeader, parseSegmentPrefix, type BackupHeader, type KdfParams, type OpenedBackup
} from './format.js'
import { timingSafeEqual } from 'node:crypto'
import { PartialLock } from './partial-lock.js'
import { logger } from '@libp2p/logger'
import { notifying } from '../net/app-handler.js'

const log = logger('ferry:backup')

export type { OpenedBackup } from './format.js'

export interface BackupOptions {
  /** No password: the file is integrity-protected only (anyone can read it). */
  password?: string
  selection?: Selection
  /** Plaintext bytes per segment (tests use small ones). */
  segmentBytes?: number
  kdf?: KdfParams
  transfer?: Partial<Omit<TransferOptions, 'windowBytes'>>
  /**
   * Called every few MiB written; a promise it returns is awaited before the backup goes on. One that
   * throws or rejects is logged as an error (`ferry:backup:error`), and the backup goes on.
   */
  onProgress?: (p: SenderProgress) => void | Promise<void>
  /**
   * Aborted, the backup stops at its next frame and rejects with CANCELLED, its partial file removed:
   * the file at `path` is as it was (an older backup there stays).
   */
  signal?: AbortSignal
  /**
   * The lock on `path.partial` (lockPartial), taken by a caller that refuses a running backup to the same
   * file before it asks for a password; the caller releases it. Omitted: the backup takes its own.
   */
  partialLock?: PartialLock
}

export interface BackupResult {
  /** Bytes of the backup file. */
  fileBytes: number
  /** Plaintext bytes (the frame stream). */
  plainBytes: number
  progress: SenderProgress
  /** Media files the backed-up chats name that the store does not hold: their messages went without them. */
  mediaFilesMissing: number
  /**
   * Media files found cut short or gone (deleted by the app while the backup ran): written padded, a
   * restore leaves them out as damaged, so their messages come back without them.
   */
  mediaFilesShort: number
  /**
   * Media files whose bytes in the store are not their sha256 (damaged at their recorded size): written
   * as read, a restore leaves them out as damaged, so their messages come back without them.
   */
  mediaFilesDamaged: number
  /** Milliseconds spent deriving the key. */
  kdfMs: number
}

/**
 * Writes a backup of `source` to `path`: the frame stream a sender emits for a fresh receiver, sealed in
 * segments (see format.ts). Written to `path.partial` (a new file, mode 0600), fsynced and renamed, so
 * `path` is only ever a complete backup, private to its owner. Memory stays at about one segment plus
 * one media chunk whatever the history's size. Refused with STORE_BUSY while another backup writes to
 * `path`; a partial file left by one that was stopped is removed (lockPartial).
 */
export async function writeBackup (source: HistorySource, path: string, o: BackupOptions = {}): Promise<BackupResult> {
  refuseDirectory(path, 'the backup file', 'chats.ferrybak')
  refuseToReplace(path, 'the backup file')
  const lock = o.partialLock ?? lockPartial(path)
  try {
    return await writeLocked(source, path, o)
  } finally {
    if (o.partialLock === undefined) lock.release()
  }
}

/**
 * Takes the lock a backup to `path` holds while it writes `path.partial`, or throws STORE_BUSY naming
 * the process of a backup to it that is running. Holding it, a partial file found there that begins as
 * a backup does (or is empty) was left by a backup that was stopped (SIGKILL, a power cut): it is
 * removed, and the backup goes on. Any other file of that name is the person's: createPartial refuses.
 */
export function lockPartial (path: string): PartialLock {
  const tmp = `${path}.partial`
  const lock = PartialLock.acquire(tmp)
  try {
    // A symlink stays, for createPartial to refuse: it is not what a backup leaves.
    if (lstatSync(tmp, { throwIfNoEntry: false })?.isFile() === true && leftByBackup(tmp)) rmSync(tmp)
  } catch (err) {
    lock.release()
    throw fsError(err, `cannot remove ${tmp}, left by a backup that was stopped`, tmp)
  }
  return lock
}

/** Whether the file at `tmp` is empty or begins with the backup format's magic, as a backup writes it. */
function leftByBackup (tmp: string): boolean {
  const fd = openSync(tmp, 'r')
  try {
    const head = Buffer.alloc(MAGIC.byteLength)
    const got = readSync(fd, head, 0, head.byteLength, 0)
    return head.subarray(0, got).equals(MAGIC.subarray(0, got))
  } finally {
    closeSync(fd)
  }
}

async function writeLocked (source: HistorySource, path: string, o: BackupOptions): Promise<BackupResult> {
  // Before the key is derived and the file made: a history a restore could not read is not written.
  await refuseUnmovableHistory(source, o.selection)
  const header = newHeader({ password: o.password !== undefined, kdf: o.kdf, segmentBytes: o.segmentBytes })
  const t0 = performance.now()
  const keys = deriveKeys(header, o.password)
  const kdfMs = performance.now() - t0
  const stopped = (): void => {
    if (o.signal?.aborted === true) throw new FerryError(ErrorCode.CANCELLED, `the backup to ${path} was stopped: nothing was written`)
  }
  stopped()
  const tmp = `${path}.partial`
  const fd = createPartial(tmp)
  let unclosed: number | undefined = fd
  let fileBytes = 0
  try {
    const out = (parts: Uint8Array[]): void => {
      for (const p of parts) { writeSync(fd, p); fileBytes += p.byteLength }
    }
    out([header.bytes, keys.check])
    const writer = new SegmentWriter(keys, header.segmentBytes, out)
    const sender = new FileSender({ source, selection: o.selection, options: o.transfer })
    let reported = 0
    const progress = notifying(o.onProgress, 'onProgress', log)
    for await (const frame of sender.frames()) {
      stopped()
      writer.push(prefix(frame))
      for (const part of frame) writer.push(part)
      if (progress !== undefined && writer.plainBytes - reported >= 4 * 1024 * 1024) {
        reported = writer.plainBytes
        await progress(sender.progress)
        await new Promise(resolve => setImmediate(resolve))
      }
    }
    stopped()
    writer.end()
    fsyncSync(fd)
    closeSync(fd)
    unclosed = undefined
    // A rename replaces whatever `path` is (a file, a symlink) without writing through it.
    renameSync(tmp, path)
    fsyncDir(dirname(path))
    return { fileBytes, plainBytes: writer.plainBytes, progress: sender.progress, mediaFilesMissing: missingMedia(sender), mediaFilesShort: sender.progress.mediaFilesShort, mediaFilesDamaged: sender.mediaFilesDamaged, kdfMs }
  } catch (err) {
    if (unclosed !== undefined) closeSync(unclosed)
    rmSync(tmp, { force: true })
    throw storeError(err, `writing the backup ${path}`)
  }
}

/** The media of the backed-up chats whose file the store did not hold (its manifest marks them missing). */
function missingMedia (sender: FileSender): number {
  const media = sender.machine.manifest?.media
  let n = 0
  for (let i = 0; i < (media?.length ?? 0); i++) if (media?.missing(i) === true) n++
  return n
}

/**
 * Refuses a `path` whose replacement would lose something that is not a backup: the rename that ends a
 * backup replaces whatever is there. An older backup (or an empty file, or a symlink, of which only the
 * link goes) is the file's to replace; a file with other content is someone's data, most likely named
 * by mistake, and a device or a pipe (/dev/stdout, a FIFO), or a link to one, would be swapped for a
 * plain file.
 */
export function refuseToReplace (path: string, option: string): void {
  let st
  try {
    st = lstatSync(path, { throwIfNoEntry: false })
  } catch (err) {
    throw fsError(err, `${option} ${path}`, path)
  }
  const onDisk = 'a backup is written to a file on disk; name one'
  refuseSpecialFile(path, option, onDisk)
  if (st === undefined || st.isSymbolicLink()) return
  if (!st.isFile()) throw new FerryError(ErrorCode.BAD_INPUT, `${option} ${path} is not a regular file: ${onDisk}`, { path })
  if (st.size === 0 || startsWithMagic(path)) return
  throw new FerryError(ErrorCode.BAD_INPUT,
    `${option} ${path} already exists and is not a Ferry backup: a backup replaces only an older backup, never other data; move that file away or name another one`, { path })
}

/** Whether the file at `path` begins as a backup does (its FERRYBAK magic); false when it cannot be read. */
function startsWithMagic (path: string): boolean {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const head = Buffer.alloc(MAGIC.byteLength)
    return readSync(fd, head, 0, head.byteLength, 0) === head.byteLength && head.equals(MAGIC)
  } catch {
    return false
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Creates the backup's temporary file, private (0600) and new: never an existing file, and never through
 * a symlink, which another user could have planted to make us write the history where they can read it.
 */
function createPartial (tmp: string): number {
  try {
    return createPrivateFile(tmp)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST' || code === 'ELOOP') {
      const link = lstatSync(tmp, { throwIfNoEntry: false })?.isSymbolicLink() === true
      throw new FerryError(ErrorCode.STORE, link
        ? `${tmp} is a symbolic link: Ferry never writes a backup through one; remove it, or choose another --out`
        : `${tmp} already exists and is not a file a backup left: remove it, or choose another --out`,
      { path: tmp }, { cause: err })
    }
    throw fsError(err, `cannot write the backup ${tmp}`, tmp)
  }
}

/** Reads a backup's header (to know whether it needs a password) without deriving any key. */
export async function readBackupHeader (path: string): Promise<BackupHeader> {
  const fh = await openBackupFile(path)
  try {
    const buf = Buffer.alloc(HEADER_BYTES)
    const { bytesRead } = await fh.read(buf, 0, HEADER_BYTES, 0)
    return parseHeader(buf.subarray(0, bytesRead), basename(path))
  } finally {
    await fh.close()
  }
}

async function openBackupFile (path: string): ReturnType<typeof open> {
  // Before it is opened: opening a FIFO waits for a writer. A backup is read at random and more than
  // once, which a pipe (`cat b | ferry restore --in /dev/stdin`) or a device cannot give.
  const st = await stat(path).catch(() => undefined)
  if (st !== undefined && !st.isFile() && !st.isDirectory()) {
    throw new FerryError(ErrorCode.BAD_INPUT, `${path} is not a regular file (a pipe or a device): a backup is read from a file on disk; save it to one first`, { path })
  }
  let fh: Awaited<ReturnType<typeof open>>
  try {
    fh = await open(path, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new FerryError(ErrorCode.BAD_INPUT, code === 'ENOENT' ? `no backup file at ${path}` : `cannot read ${path}: ${(err as Error).message}`)
  }
  // Linux opens a directory for reading; only the first read fails.
  if ((await fh.stat()).isDirectory()) {
    await fh.close()
    throw new FerryError(ErrorCode.BAD_INPUT, `${path} is a directory, not a backup file`)
  }
  return fh
}


/**
 * Opens a backup for restoreBackup: reads its header and derives its key from `password` (scrypt at the
 * cost the header names: 256 MiB of memory by default). BAD_INPUT for a wrong password (or a
 * damaged header), a password given for a file made without one, or a file that is no backup.
 */
export async function openBackup (path: string, password?: string): Promise<OpenedBackup> {
  const name = basename(path)
  const fh = await openBackupFile(path)
  try {
    const buf = Buffer.alloc(PREAMBLE_BYTES)
    const { bytesRead } = await fh.read(buf, 0, PREAMBLE_BYTES, 0)
    const header = parseHeader(buf.subarray(0, bytesRead), name)
    if (bytesRead < PREAMBLE_BYTES) throw cutOff(name, bytesRead, 'its header')
    // A caller with a password expects a file only its holder could have written; one without a password
    // (the header is read here again, and the file may have changed since the caller looked) anyone could.
    if (!header.password && password !== undefined) {
      throw new FerryError(ErrorCode.BAD_INPUT, `${name} has no password (anyone could have written or altered it), but a password was given`)
    }
    const t0 = performance.now()
    const keys = deriveKeys(header, password)
    const kdfMs = performance.now() - t0
    if (!timingSafeEqual(keys.check, buf.subarray(HEADER_BYTES, HEADER_BYTES + CHECK_BYTES))) {
      throw header.password
        ? new FerryError(ErrorCode.BAD_INPUT, `wrong password for ${name} (or its header is damaged)`, { reason: 'wrong-password' })
        : new FerryError(ErrorCode.BAD_INPUT, `${name} has a damaged header (its key check fails)`)
    }
    return { path, header, keys, kdfMs }
  } finally {
    await fh.close()
  }
}

/**
 * Yields the plaintext of a backup segment by segment. A segment is released only after its tag
 * verified; a damaged, missing, reordered or foreign segment, a file cut short (even exactly at a segment
 * boundary: the last segment carries an authenticated end marker) and bytes after the end all throw
 * BAD_INPUT, after every segment before them was yielded.
 */
export async function * backupPlaintext (b: OpenedBackup): AsyncGenerator<Buffer> {
  const name = basename(b.path)
  const fh = await openBackupFile(b.path)
  try {
    const size = (await fh.stat()).size
    let pos = PREAMBLE_BYTES
    const head = Buffer.alloc(SEGMENT_PREFIX_BYTES)
    const body = Buffer.alloc(b.header.segmentBytes + TAG_BYTES)
    for (let n = 0; ; n++) {
      const where = `segment ${n} (byte ${pos})`
      if (pos >= size) throw cutOff(name, size, `before ${where}, without its end marker`)
      if ((await fh.read(head, 0, SEGMENT_PREFIX_BYTES, pos)).bytesRead < SEGMENT_PREFIX_BYTES) {
        throw cutOff(name, size, where)
      }
      const { length, final } = parseSegmentPrefix(head)
      if (length > b.header.segmentBytes) throw new FerryError(ErrorCode.BAD_INPUT, `${name} is corrupted at ${where}: its length field is damaged`)
      const total = length + TAG_BYTES
      if ((await fh.read(body, 0, total, pos + SEGMENT_PREFIX_BYTES)).bytesRead < total) {
        throw cutOff(name, size, where)
      }
      const plain = openSegment(b.keys, n, final, body.subarray(0, length), body.subarray(length, total))
      if (plain === undefined) {
        throw new FerryError(ErrorCode.BAD_INPUT, `${name} is corrupted at ${where}: it fails authentication (damaged, cut, reordered or from another file)`)
      }
      pos += SEGMENT_PREFIX_BYTES + total
      yield plain
      if (final) {
        if (pos !== size) throw new FerryError(ErrorCode.BAD_INPUT, `${name} has ${size - pos} unexpected bytes after its end marker`)
        return
      }
    }
  } finally {
    await fh.close()
  }
}

/** The frame bodies of a backup, in order. */
export async function * backupFrames (b: OpenedBackup): AsyncGenerator<Uint8Array> {
  const decoder = new FrameDecoder()
  for await (const plain of backupPlaintext(b)) yield * decoder.push(plain)
  decoder.end()
}

/** A restore brings back all that the backup (or `chats` of it) holds, also what was deleted here since. */
export interface RestoreOptions {
  /** Restore only these conversations (their contacts and the media their messages use). */
  chats?: string[]
  /**
   * Called as the restore moves, from when its totals and what the store already holds are known; one
   * that throws or rejects is logged (`ferry:backup:error`), and the restore goes on.
   */
  onProgress?: (r: ReceiverMachine) => void
  /**
   * Bytes free where the store keeps media (`freeSpaceOf(storeDir)` on Node): a backup whose media do
   * not fit is refused before they come, with STORE_FULL naming both numbers, as a transfer is
   * (ReceiverInit.freeBytes), rather than stopping with a full disk part-way. Omitted: no such check.
   */
  freeBytes?: () => Promise<number>
}

export interface RestoreResult {
  receiver: ReceiverMachine
  sender: SenderMachine
}

/**
 * Restores an opened backup into a store: an ordinary transfer, from the backup read as the phone it was
 * made from (BackupSource) to the store, over an in-memory pipe. So a restore is resumable (run it again
 * after a crash: what is stored is not written again), idempotent, selective (`chats` is the receiver's
 * request) and ends verified by reading the store back; a refused one is undone like a transfer.
 */
export async function restoreBackup (store: HistorySink, journal: Journal, b: OpenedBackup, o: RestoreOptions = {}): Promise<RestoreResult> {
  return await restoreFrom(store, journal, await openRestore(b, o.chats), o)
}

/**
 * Reads and checks what a restore needs from the file (its end, its manifest and messages, the chats
 * asked for) before any store is touched: an app (the CLI) opens or creates the store only after, so a
 * file refused here leaves no store behind.
 */
export async function openRestore (b: OpenedBackup, chats?: string[]): Promise<BackupSource> {
  let source: BackupSource | undefined
  try {
    source = await BackupSource.open(b)
    await refuseUnknownChats(source, chats, 'this backup')
    return source
  } catch (err) {
    await source?.close()
    if (!isFerryError(err, ErrorCode.BAD_INPUT)) throw err
    throw new FerryError(err.code, `${err.message}. Nothing was restored from it.`, err.details, { cause: err })
  }
}

/** Restores from a source `openRestore` gave, and closes it. */
export async function restoreFrom (store: HistorySink, journal: Journal, source: BackupSource, o: RestoreOptions = {}): Promise<RestoreResult> {
  try {
    await continueIfEmpty(store, source)
    for (;;) {
      try {
        return await restoreOnce(store, journal, source, o)
      } catch (err) {
        // A file resumed from a part this phone kept that did not match (media-intake.ts): the part
        // went, nothing was taken back, and the next session reads the file whole from the backup.
        if (!isFerryError(err, ErrorCode.TRUNCATED) || err.details?.fetchAgain !== true) throw err
      }
    }
  } finally {
    await source.close()
  }
}

/**
 * A backup restored into an empty store makes it the phone the backup was made from, to the phones that
 * received from that one (HistorySource.formerIds, journal/former-bases.ts): recorded before anything is
 * restored, so a restore run again over a store it began still records it. Its history id stays its
 * own, as the phone the backup came from may still be in use. `--chats` records it too: what such a
 * store sends of the backup's chats is what that phone sent, and the bases taken over only keep out what
 * matches them; a chat it never restored is just not sent. A store that holds anything is a phone of
 * its own, which the backup merges into, and records nothing.
 */
async function continueIfEmpty (store: HistorySink, source: BackupSource): Promise<void> {
  if (store.continueFrom === undefined || source.historyId === '' || source.historyId === store.historyId) return
  if ((await store.conversations()).length > 0 || (await store.contacts()).length > 0 || (await store.media(undefined, 1)).length > 0) return
  const had = (store as Partial<HistorySource>).formerIds ?? []
  const ids = formerIdsOf({ historyId: store.historyId, formerIds: [source.historyId, ...source.formerIds, ...had] })
  await store.continueFrom(ids)
}

/** One session of a restore, from the backup to the store over an in-memory pipe. */
async function restoreOnce (store: HistorySink, journal: Journal, source: BackupSource, o: RestoreOptions): Promise<RestoreResult> {
  const sender = new SenderMachine({ source, agent: 'ferry-backup-file' })
  // A restore brings back what the backup holds, what this phone's owner deleted since an earlier
  // transfer from the same phone among it: restoring is how a person gets a deleted chat back, and
  // --chats names it. A live transfer keeps such deletions (ReceiverInit.restoreDeleted). Otherwise
  // it only adds (ReceiverInit.restoring): the backup may be older than what this phone holds, names,
  // members and message versions, and than the bases the transfers from that phone recorded.
  const receiver = new ReceiverMachine({
    sink: store, journal, request: o.chats !== undefined ? { conversations: o.chats } : undefined, agent: 'ferry-restore', restoreDeleted: true,
    restoring: true, freeBytes: o.freeBytes
  })
  const pipe = memoryPipe()
  // Nothing to tell before the manifest says how much is coming and what this store already holds is
  // known (as a network receive): a bar drawn from the hello's zero totals reads as done at once.
  const told = notifying(o.onProgress, 'onProgress', log)
  const progress = told === undefined ? undefined : () => { if (receiver.progressKnown) void told(receiver) }
  const [s, r] = await Promise.allSettled([runSender(sender, pipe.a), runReceiver(receiver, pipe.b, { onProgress: progress })])
  if (r.status === 'rejected') {
    // A failure of the file itself (damage, truncation) is the sender's: say it as such.
    const err = s.status === 'rejected' && (s.reason as FerryError).code === ErrorCode.BAD_INPUT ? s.reason : r.reason
    throw err
  }
  void told?.(receiver)
  return { receiver, sender }
}
