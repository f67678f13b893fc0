import { realpathSync, type Stats } from 'node:fs'
import { open, readdir, stat } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve } from 'node:path'
import yauzl from 'yauzl'
import { ErrorCode, FerryError } from '../../errors.js'
import { readReason } from '../../fs-errors.js'
import { decodeText, encodingName } from './text-encoding.js'
import { crc32 } from './crc32.js'

// Where an export's files are read from: a folder (an unpacked export, or the folder of a single .txt or
// result.json) or a .zip archive, read in place and streamed entry by entry, so an archive of any size
// never sits in memory. Paths are relative to the export's root, '/'-separated, and never leave it.

export interface ExportSource {
  /** The folder or archive, for messages. */
  readonly label: string
  /** Is this path a file of the export? */
  has: (path: string) => Promise<boolean>
  /** A file's bytes, streamed. */
  open: (path: string) => Promise<AsyncIterable<Uint8Array>>
  /** A whole file as text, UTF-8 or UTF-16 by its byte order mark (refused past maxBytes). */
  readText: (path: string, maxBytes: number) => Promise<string>
  /** The files of the export (relative paths); for a folder, only where the caller lists it. */
  list: () => Promise<string[]>
  close: () => Promise<void>
}

/** A path inside the export, or undefined when it would leave it (absolute, or through ".."). */
export function insidePath (path: string): string | undefined {
  const p = path.replace(/\\/g, '/')
  if (p === '' || p.startsWith('/') || /^[a-zA-Z]:/.test(p)) return undefined
  const parts: string[] = []
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') return undefined
    parts.push(part)
  }
  return parts.length === 0 ? undefined : parts.join('/')
}

function bad (message: string): FerryError {
  return new FerryError(ErrorCode.BAD_INPUT, message)
}

async function decode (chunks: AsyncIterable<Uint8Array>, what: string, maxBytes: number): Promise<string> {
  const parts: Buffer[] = []
  let size = 0
  for await (const c of chunks) {
    size += c.byteLength
    if (size > maxBytes) throw bad(`${what} is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB: too large to read as a chat`)
    parts.push(Buffer.from(c))
  }
  const bytes = Buffer.concat(parts)
  try {
    return decodeText(bytes)
  } catch {
    throw bad(`${what} is not ${encodingName(bytes)} text`)
  }
}

const denied = (err: unknown): boolean => ['EACCES', 'EPERM'].includes((err as { code?: string })?.code ?? '')

/** A folder: files are read where they are; symlinks that point out of it are refused. */
export class FolderSource implements ExportSource {
  readonly label: string
  private readonly root: string
  private realRoot?: string

  constructor (dir: string) {
    this.root = resolve(dir)
    this.label = this.root
  }

  private async file (path: string): Promise<{ abs: string, st: Stats } | undefined> {
    const rel = insidePath(path)
    if (rel === undefined) return undefined
    const abs = join(this.root, ...rel.split('/'))
    try {
      const st = await stat(abs)
      if (!st.isFile()) return undefined
      this.realRoot ??= realpathSync(this.root)
      const real = relative(this.realRoot, realpathSync(abs))
      if (real === '' || real.startsWith('..') || isAbsolute(real)) return undefined
      return { abs, st }
    } catch (err) {
      // A file of the export this user may not look at is no missing file: the person can give the right.
      if (denied(err)) throw bad(readReason(err, abs) as string)
      return undefined
    }
  }

  /**
   * Opened before it is streamed: a file this user cannot read is said with its path here, where a
   * stream would fail at its first read with Node's own words.
   */
  private async opened (f: { abs: string }): Promise<AsyncIterable<Uint8Array>> {
    let fh
    try {
      fh = await open(f.abs, 'r')
    } catch (err) {
      throw bad(readReason(err, f.abs) ?? `cannot read ${f.abs}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    return fh.createReadStream({ highWaterMark: 1024 * 1024 })
  }

  async has (path: string): Promise<boolean> {
    return (await this.file(path)) !== undefined
  }

  async open (path: string): Promise<AsyncIterable<Uint8Array>> {
    const f = await this.file(path)
    if (f === undefined) throw bad(`${path} is not a file of ${this.label}`)
    return await this.opened(f)
  }

  async readText (path: string, maxBytes: number): Promise<string> {
    const f = await this.file(path)
    if (f === undefined) throw bad(`cannot read ${join(this.root, path)}`)
    if (f.st.size > maxBytes) throw bad(`${f.abs} is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB: too large to read as a chat`)
    return await decode(await this.opened(f), f.abs, maxBytes)
  }

  /** The files at the top of the folder and one level down (where exports keep their main file). */
  async list (): Promise<string[]> {
    const out: string[] = []
    const walk = async (dir: string, depth: number): Promise<void> => {
      let entries
      try {
        entries = await readdir(join(this.root, dir), { withFileTypes: true })
      } catch (err) {
        // A folder this user cannot list may hold the chat: said, rather than "not a chat export".
        if (denied(err)) throw bad(readReason(err, join(this.root, dir)) as string)
        return
      }
      for (const e of entries) {
        const rel = dir === '' ? e.name : `${dir}/${e.name}`
        if (e.isFile()) out.push(rel)
        else if (e.isDirectory() && depth < 1) await walk(rel, depth + 1)
      }
    }
    await walk('', 0)
    return out.sort()
  }

  async close (): Promise<void> {}
}

/**
 * One file that came through a pipe (`<(command)`, a FIFO), held in memory: a pipe has no folder, so
 * the media an export keeps beside its chat are not in it, and messages that name them are kept
 * without them, as for an export sent without its media.
 */
export class PipedFileSource implements ExportSource {
  constructor (readonly label: string, private readonly name: string, private readonly bytes: Buffer) {}

  async has (path: string): Promise<boolean> {
    return insidePath(path) === this.name
  }

  async open (path: string): Promise<AsyncIterable<Uint8Array>> {
    if (insidePath(path) !== this.name) throw bad(`${path} is not in ${this.label}: a pipe carries one file`)
    const bytes = this.bytes
    return (async function * () { yield bytes })()
  }

  async readText (path: string, maxBytes: number): Promise<string> {
    return await decode(await this.open(path), this.label, maxBytes)
  }

  async list (): Promise<string[]> {
    return [this.name]
  }

  async close (): Promise<void> {}
}

/** Limits that tell an archive worth reading from one built to exhaust the machine. */
export const ZIP_LIMITS = {
  entries: 500_000,
  /** An entry above this size may expand at most `ratio` times its compressed size. */
  ratioFloor: 1024 * 1024,
  ratio: 1000,
  /** The whole archive may expand at most this many times its own size (and above `ratioFloor`). */
  totalRatio: 200
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * An entry's name. The zip format says names are CP437 unless a flag says UTF-8, but Info-ZIP and
 * macOS Archive Utility write UTF-8 without the flag: names that are valid UTF-8 are read as UTF-8
 * (CP437 text with letters above 127 is almost never valid UTF-8), the rest as yauzl decoded them.
 */
function entryName (entry: yauzl.Entry): string {
  const flagged = (entry.generalPurposeBitFlag & 0x800) !== 0
  const unicodeField = entry.extraFields.some(f => f.id === 0x7075)
  if (flagged || unicodeField || entry.fileNameRaw.every(b => b < 0x80)) return entry.fileName
  let name: string
  try {
    name = UTF8.decode(entry.fileNameRaw).replace(/\\/g, '/')
  } catch {
    return entry.fileName
  }
  // yauzl checked the CP437 reading; the path's ASCII parts ("/", "..") are the same bytes in both.
  const problem = yauzl.validateFileName(name)
  if (problem !== null) throw new Error(problem)
  return name
}

/** A .zip archive, read in place: only the central directory is held, entries are streamed when read. */
export class ZipSource implements ExportSource {
  private constructor (readonly label: string, private readonly zip: yauzl.ZipFile, private readonly entries: Map<string, yauzl.Entry>) {}

  static async open (path: string): Promise<ZipSource> {
    const label = resolve(path)
    let zip: yauzl.ZipFile
    try {
      zip = await yauzl.openPromise(label, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false })
    } catch (err) {
      throw bad(`${label} is not a readable zip archive: ${zipProblem(err)}`)
    }
    const entries = new Map<string, yauzl.Entry>()
    try {
      if (zip.entryCount > ZIP_LIMITS.entries) throw bad(`${label} lists ${zip.entryCount} entries: more than ${ZIP_LIMITS.entries}, refused`)
      let total = 0
      const all: Array<{ entry: yauzl.Entry, name: string }> = []
      try {
        for await (const entry of zip.eachEntry()) {
          const name = entryName(entry)
          all.push({ entry, name })
          if (name.endsWith('/')) continue
          if (entry.uncompressedSize > ZIP_LIMITS.ratioFloor && entry.uncompressedSize > ZIP_LIMITS.ratio * Math.max(1, entry.compressedSize)) {
            throw bad(`${label}: entry ${name} would expand from ${entry.compressedSize} to ${entry.uncompressedSize} bytes: refused as a zip bomb`)
          }
          total += entry.uncompressedSize
          // The first of two entries of one name is kept; later ones are what a tampered archive adds.
          if (!entries.has(name)) entries.set(name, entry)
        }
      } catch (err) {
        if (err instanceof FerryError) throw err
        const msg = (err as Error).message
        if (/invalid relative path|absolute path/.test(msg)) throw bad(`${label}: an entry's path leaves the archive (${msg}): refused`)
        throw bad(`${label} is not a readable zip archive: ${msg}`)
      }
      if (total > ZIP_LIMITS.ratioFloor && total > ZIP_LIMITS.totalRatio * zip.fileSize) {
        throw bad(`${label} would expand from ${zip.fileSize} to ${total} bytes: refused as a zip bomb`)
      }
      // Entries whose data overlap (one compressed stream shared by many entries) are how the densest
      // zip bombs are built; no archiver writes them.
      const byOffset = [...all].sort((x, y) => x.entry.relativeOffsetOfLocalHeader - y.entry.relativeOffsetOfLocalHeader)
      for (let i = 1; i < byOffset.length; i++) {
        const prev = byOffset[i - 1]
        if (prev.entry.relativeOffsetOfLocalHeader + 30 + prev.entry.compressedSize > byOffset[i].entry.relativeOffsetOfLocalHeader) {
          throw bad(`${label}: entries ${prev.name} and ${byOffset[i].name} overlap: refused as a zip bomb`)
        }
      }
    } catch (err) {
      zip.close()
      throw err
    }
    return new ZipSource(label, zip, entries)
  }

  private entry (path: string): yauzl.Entry | undefined {
    const rel = insidePath(path)
    return rel === undefined ? undefined : this.entries.get(rel)
  }

  async has (path: string): Promise<boolean> {
    return this.entry(path) !== undefined
  }

  async open (path: string): Promise<AsyncIterable<Uint8Array>> {
    const entry = this.entry(path)
    if (entry === undefined) throw bad(`${path} is not in ${this.label}`)
    const name = insidePath(path) ?? path
    if (entry.isEncrypted()) throw bad(`${this.label}: ${name} is encrypted; Ferry reads only unencrypted archives`)
    if (!entry.canDecodeFileData()) throw bad(`${this.label}: ${name} uses compression method ${entry.compressionMethod}, which Ferry cannot read`)
    const stream = await this.zip.openReadStreamPromise(entry)
    const label = this.label
    return (async function * () {
      // yauzl checks an entry's size, not its CRC-32: a stored entry (media are stored, not deflated)
      // with a damaged byte would otherwise be imported as if intact. Checked once the entry is read to
      // its end; a reader that stops early (telling the format from the first bytes) checks nothing.
      let crc = 0
      try {
        for await (const chunk of stream) {
          crc = crc32(chunk as Uint8Array, crc)
          yield chunk as Uint8Array
        }
      } catch (err) {
        throw bad(`${label}: ${name} is damaged: ${(err as Error).message}`)
      }
      if (crc !== entry.crc32) {
        throw bad(`${label}: ${name} is damaged: its bytes do not match the archive's checksum for it (the archive was damaged in a copy or download?); nothing was imported`)
      }
    })()
  }

  async readText (path: string, maxBytes: number): Promise<string> {
    const entry = this.entry(path)
    if (entry === undefined) throw bad(`${path} is not in ${this.label}`)
    const what = `${this.label}: ${insidePath(path) ?? path}`
    if (entry.uncompressedSize > maxBytes) throw bad(`${what} is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB: too large to read as a chat`)
    return await decode(await this.open(path), what, maxBytes)
  }

  async list (): Promise<string[]> {
    return [...this.entries.keys()].filter(n => insidePath(n) === n).sort()
  }

  async close (): Promise<void> {
    this.zip.close()
  }
}

/**
 * What yauzl's refusal of a whole archive means to a person. A zip's index is at its end, so an archive
 * cut short (a download or copy that did not finish) has none, which yauzl says as "End of central
 * directory record signature not found"; its other refusals keep their words.
 */
function zipProblem (err: unknown): string {
  const message = (err as Error)?.message ?? String(err)
  if (/end of central directory record signature not found/i.test(message)) {
    return 'it has no end (its index of entries is missing): it was cut off, as by a download or copy that did not finish, or is no zip at all'
  }
  return message
}

/** Does this file start like a zip archive? */
export async function isZipFile (path: string): Promise<boolean> {
  const { open } = await import('node:fs/promises')
  let fh
  try {
    fh = await open(path, 'r')
    const buf = Buffer.alloc(4)
    const { bytesRead } = await fh.read(buf, 0, 4, 0)
    // A local file header, or the end record of an empty archive.
    return bytesRead === 4 && buf[0] === 0x50 && buf[1] === 0x4b && ((buf[2] === 3 && buf[3] === 4) || (buf[2] === 5 && buf[3] === 6))
  } catch {
    return false
  } finally {
    await fh?.close()
  }
}

/** Joins a directory and a name inside the export ('' is the root). */
export function joinPath (dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`
}

/** The directory part of a path inside the export ('' for the root). */
export function dirOf (path: string): string {
  const i = path.lastIndexOf('/')
  return i < 0 ? '' : path.slice(0, i)
}

