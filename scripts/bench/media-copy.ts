// The work any store-to-store copy of the media must do besides moving bytes, for the "libp2p + files"
// baseline: the writer reads every media file the source store holds (its list and paths); the reader
// writes each to a part file, hashes it with sha256, checks the hash, renames the file into place and
// syncs the filesystem once at the end. No protocol, no database, no resume, no durability before a rename: a
// floor for storing the files through the page cache (Ferry writes whole chunks past it, so it can come in
// under this), and it over the bare stream is what storing the files that way costs on this machine.
import { createHash, type Hash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readSync, renameSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { MediaFolder } from '../../src/store/media-folder.js'

export interface MediaFile { sha256: string, size: number, path: string }

/** Each file goes as its sha256 (32 bytes) and size (u64, big-endian), then its bytes. */
const HEADER = 40

/**
 * The store's media whose files it holds, in sha256 order, with where each lies: what its sender sends
 * (a record without its file is listed in Ferry's manifest as missing, and never sent).
 */
export function mediaOf (store: SqliteChatStore): MediaFile[] {
  const has = store.mediaPresence()
  const out: MediaFile[] = []
  for (const m of store.listMedia()) if (has(m.sha256)) out.push({ sha256: m.sha256, size: m.size, path: store.mediaPath(m.sha256) })
  return out
}

/** Bytes on the stream for `files`: what the reader counts. */
export function streamBytes (files: MediaFile[]): number {
  return files.reduce((n, f) => n + HEADER + f.size, 0)
}

/**
 * The writer's side: headers and file bytes gathered into writes of `chunk` bytes (small files share
 * one). Each read goes into a fresh buffer: a buffer handed to the stream may wait below it until it is
 * encrypted, and this baseline has no acknowledgements to say when it may be reused (Ferry's sender
 * reuses acknowledged slabs, so here the writer allocates more than Ferry's does).
 */
export function * readMedia (files: MediaFile[], chunk: number): Generator<Uint8Array[]> {
  let batch: Uint8Array[] = []
  let queued = 0
  const add = (b: Uint8Array): Uint8Array[] | undefined => {
    batch.push(b)
    queued += b.byteLength
    if (queued < chunk) return undefined
    const full = batch
    batch = []
    queued = 0
    return full
  }
  for (const f of files) {
    const head = new Uint8Array(HEADER)
    head.set(Buffer.from(f.sha256, 'hex'))
    new DataView(head.buffer).setBigUint64(32, BigInt(f.size))
    const full = add(head)
    if (full !== undefined) yield full
    const fd = openSync(f.path, 'r')
    try {
      for (let at = 0; at < f.size;) {
        const buf = Buffer.allocUnsafeSlow(Math.min(f.size - at, chunk - queued))
        const n = readSync(fd, buf, 0, buf.byteLength, at)
        if (n !== buf.byteLength) throw new Error(`${f.path}: read ${n} of ${buf.byteLength} bytes at ${at}`)
        at += n
        const full = add(buf)
        if (full !== undefined) yield full
      }
    } finally {
      closeSync(fd)
    }
  }
  if (batch.length > 0) yield batch
}

/** The reader's side: parses headers, writes, hashes and names each file as its bytes arrive. */
export class MediaSink {
  files = 0
  private readonly head = new Uint8Array(HEADER)
  private headAt = 0
  private file?: { sha256: string, fd: number, at: number, left: number, hash: Hash, part: string }
  private readonly fanouts = new Set<string>()
  /** Only for its layout (where a file's name goes): the sink writes and renames by itself. */
  private readonly folder: MediaFolder
  private readonly partDir: string

  constructor (private readonly root: string) {
    this.folder = new MediaFolder(root)
    // The sink's own: the store keeps no partial files in the media folder (the journal has them).
    this.partDir = join(root, '.part')
    mkdirSync(this.partDir, { recursive: true })
  }

  push (piece: Uint8Array): void {
    for (let i = 0; i < piece.byteLength;) {
      const f = this.file
      if (f === undefined) {
        const take = Math.min(HEADER - this.headAt, piece.byteLength - i)
        this.head.set(piece.subarray(i, i + take), this.headAt)
        this.headAt += take
        i += take
        if (this.headAt === HEADER) this.open()
        continue
      }
      const take = Math.min(f.left, piece.byteLength - i)
      const part = piece.subarray(i, i + take)
      writeSync(f.fd, part, 0, take, f.at)
      f.hash.update(part)
      f.at += take
      f.left -= take
      i += take
      if (f.left === 0) this.close(f)
    }
  }

  /** After the last byte: throws if a file is unfinished, else makes everything durable (syncfs). */
  finish (): void {
    if (this.file !== undefined || this.headAt > 0) throw new Error('the stream ended inside a file')
    this.folder.close()
    execFileSync('sync', ['--file-system', this.root])
  }

  private open (): void {
    this.headAt = 0
    const sha256 = Buffer.from(this.head.subarray(0, 32)).toString('hex')
    const size = Number(new DataView(this.head.buffer).getBigUint64(32))
    const part = join(this.partDir, sha256)
    this.file = { sha256, fd: openSync(part, 'w'), at: 0, left: size, hash: createHash('sha256'), part }
    if (size === 0) this.close(this.file)
  }

  private close (f: NonNullable<MediaSink['file']>): void {
    this.file = undefined
    closeSync(f.fd)
    const actual = f.hash.digest('hex')
    if (actual !== f.sha256) throw new Error(`${f.sha256} arrived with sha256 ${actual}`)
    const name = this.folder.path(f.sha256)
    const fanout = dirname(name)
    if (!this.fanouts.has(fanout)) {
      mkdirSync(fanout, { recursive: true })
      this.fanouts.add(fanout)
    }
    renameSync(f.part, name)
    this.files++
  }
}
