import { open, stat } from 'node:fs/promises'
import { basename, dirname, extname, resolve } from 'node:path'
import { ErrorCode, FerryError } from '../../errors.js'
import { readReason } from '../../fs-errors.js'
import { NOT_RECOGNISED } from './common.js'
import { dirOf, FolderSource, isZipFile, PipedFileSource, ZipSource, type ExportSource } from './source.js'
import { readStream } from '../../read-stream.js'
import { looksLikeWhatsApp, titleFromName } from './whatsapp.js'
import { decodeHead } from './text-encoding.js'

// What an import path holds, decided by its content (names only break ties):
// - a file: canonical NDJSON (the first non-blank line is a JSON object with a "type"), Telegram JSON
//   (a JSON document with "messages" or "chats"), or a WhatsApp chat text (message headers at the top);
// - a folder or a .zip archive: a Telegram export (result.json, at the top or one folder down) or a
//   WhatsApp export (_chat.txt, "WhatsApp Chat with X.txt", or another .txt that reads as a chat).
// Anything else is refused, naming what was tried.

export type ImportFormat = 'ndjson' | 'telegram' | 'whatsapp'
export const IMPORT_FORMATS: readonly ImportFormat[] = ['ndjson', 'telegram', 'whatsapp']


const HEAD_BYTES = 64 * 1024

/** Decides a file's format from its first bytes; undefined when it is none of them. */
export function detectFormat (head: string, name = ''): ImportFormat | undefined {
  const text = head.replace(/^\ufeff/, '')
  const first = text.split(/\r?\n/).find(l => l.trim() !== '')
  // A file with nothing in it holds no history: importing it would only make an empty store. Named as
  // Telegram names its export, it is one that did not finish: its import says so.
  if (first === undefined) return basename(name) === 'result.json' ? 'telegram' : undefined
  const trimmed = first.trim()
  if (trimmed.startsWith('{')) {
    try {
      const v = JSON.parse(trimmed) as unknown
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        // A Telegram result.json minified onto one line is a whole object too, with a "type" of its own
        // ("personal_chat"); its messages or chats tell it from a canonical record, which has neither.
        const { messages, chats } = v as { messages?: unknown, chats?: unknown }
        if (Array.isArray(messages) || (typeof chats === 'object' && chats !== null)) return 'telegram'
        if ('type' in v) return 'ndjson'
      }
    } catch {}
    // A JSON document over many lines: Telegram's keys show near the top ("name", "type", "id", "messages"
    // for one chat; "about", "personal_information", "contacts", "chats" for a full export).
    if (/"(messages|chats)"\s*:/.test(text)) return 'telegram'
    // A broken canonical line is still meant as one: the NDJSON import says what is wrong with it.
    if (/^\{\s*"type"\s*:/.test(trimmed)) return 'ndjson'
    return extname(name).toLowerCase() === '.json' && trimmed === '{' ? 'telegram' : undefined
  }
  if (looksLikeWhatsApp(text)) return 'whatsapp'
  return undefined
}

/** An import path, opened: its format and, for a foreign export, where its files are and which is the chat. */
export interface OpenedExport {
  format: ImportFormat
  /** The file to read for NDJSON. */
  file: string
  /** NDJSON from a pipe: its bytes, read once (the first of them already taken to tell the format). */
  input?: AsyncIterable<Uint8Array>
  /** For Telegram and WhatsApp: the export's files, and the main one among them. */
  source?: ExportSource
  main?: string
  /** WhatsApp: the chat's title from the names WhatsApp gave the file, archive or folder. */
  title?: string
}

function bad (message: string): FerryError {
  return new FerryError(ErrorCode.BAD_INPUT, message)
}

async function fileHead (path: string): Promise<string> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.alloc(HEAD_BYTES)
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0)
    return decodeHead(buf.subarray(0, bytesRead))
  } finally {
    await fh.close()
  }
}

async function sourceHead (source: ExportSource, path: string): Promise<string> {
  const parts: Buffer[] = []
  let size = 0
  for await (const chunk of await source.open(path)) {
    parts.push(Buffer.from(chunk))
    size += chunk.byteLength
    if (size >= HEAD_BYTES) break
  }
  return decodeHead(Buffer.concat(parts).subarray(0, HEAD_BYTES))
}

const depth = (p: string): number => p.split('/').length

/** Telegram Desktop's HTML export: its pages are messages.html, messages2.html... */
const HTML_PAGE = /^messages\d*\.html$/i

function htmlExport (label: string): FerryError {
  return bad(`${label} is a Telegram export in HTML: Ferry reads the JSON one (in Telegram Desktop's export, choose "Machine-readable JSON")`)
}

/** The export inside a folder or archive: its main file and format. */
async function findInside (source: ExportSource, label: string, forced?: ImportFormat): Promise<{ format: ImportFormat, main: string }> {
  if (forced === 'ndjson') throw bad(`${label}: --format ndjson reads a file, not a folder or an archive`)
  const files = await source.list()
  const pick = (found: string[], what: string): string | undefined => {
    if (found.length === 0) return undefined
    const top = Math.min(...found.map(depth))
    const shallow = found.filter(f => depth(f) === top)
    if (shallow.length > 1) throw bad(`${label} holds several ${what}s (${shallow.join(', ')}): import them one at a time`)
    return shallow[0]
  }
  if (forced !== 'whatsapp') {
    const json = pick(files.filter(f => basename(f) === 'result.json'), 'Telegram export')
    if (json !== undefined) return { format: 'telegram', main: json }
  }
  if (forced !== 'telegram') {
    const texts = files.filter(f => extname(f).toLowerCase() === '.txt')
    const named = texts.filter(f => basename(f) === '_chat.txt' || /whatsapp/i.test(basename(f)))
    let chats = named
    if (chats.length === 0) {
      chats = []
      for (const t of texts.slice(0, 50)) if (looksLikeWhatsApp(await sourceHead(source, t))) chats.push(t)
    }
    const txt = pick(chats, 'WhatsApp chat')
    if (txt !== undefined) return { format: 'whatsapp', main: txt }
  }
  if (files.some(f => basename(f) === 'messages.html')) throw htmlExport(label)
  throw bad(`${label}: ${forced === undefined ? NOT_RECOGNISED : `no ${forced === 'telegram' ? 'Telegram result.json' : 'WhatsApp chat .txt'} in it`}`)
}

/** The chat's title for a WhatsApp export: from the .txt's name, or for _chat.txt from the archive or folder. */
function whatsAppTitle (main: string, container: string): string {
  return basename(main) === '_chat.txt' ? titleFromName(dirOf(main) === '' ? basename(container) : basename(dirOf(main))) : titleFromName(basename(main))
}

/** Opens an import path (a file, a folder or a .zip) and decides what it holds; `forced` names the format instead. */
export async function openExport (path: string, forced?: ImportFormat): Promise<OpenedExport> {
  const abs = resolve(path)
  let st
  try {
    st = await stat(abs)
  } catch (err) {
    throw bad(unreadable(path, err))
  }
  if (st.isDirectory()) {
    const source = new FolderSource(abs)
    const { format, main } = await findInside(source, abs, forced)
    return { format, file: abs, source, main, title: whatsAppTitle(main, abs) }
  }
  // A pipe is read once, from its start: its first bytes tell the format, and are kept for the import.
  if (st.isFIFO()) return await openPipe(path, abs, forced)
  if (await isZipFile(abs)) {
    const source = await ZipSource.open(abs)
    try {
      const { format, main } = await findInside(source, abs, forced)
      return { format, file: abs, source, main, title: whatsAppTitle(main, abs) }
    } catch (err) {
      await source.close()
      throw err
    }
  }
  let head: string
  try {
    head = await fileHead(abs)
  } catch (err) {
    throw bad(unreadable(path, err))
  }
  const format = forced ?? detectFormat(head, abs)
  if (format === undefined) throw HTML_PAGE.test(basename(abs)) ? htmlExport(path) : bad(`${path}: ${NOT_RECOGNISED}`)
  if (format === 'ndjson') return { format, file: abs }
  const name = basename(abs)
  return { format, file: abs, source: new FolderSource(dirname(abs)), main: name, title: whatsAppTitle(name, dirname(abs)) }
}

/** Largest chat text read from a pipe: as for a file, Telegram's JSON and WhatsApp's text are parsed whole. */
const MAX_PIPED_TEXT = 512 * 1024 * 1024

const isZipHead = (b: Buffer): boolean => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6))

/**
 * Has the head read so far told the format for good, so reading can stop there? A zip's first four
 * bytes tell it, and a complete first line that is a canonical record tells NDJSON: reading on to
 * HEAD_BYTES would hold an NDJSON stream that is still being written (`ferry export | ferry import -`,
 * a FIFO fed by hand) until its writer wrote that much or went away. Anything else waits for the
 * whole head, as its format is told from more than one line.
 */
function headTells (head: Buffer, forced?: ImportFormat): boolean {
  if (head.length >= 4 && isZipHead(head)) return true
  if (forced === 'ndjson') return head.length >= 4
  if (!head.includes(0x0a)) return false
  const text = decodeHead(head.subarray(0, head.lastIndexOf(0x0a) + 1)).replace(/^\ufeff/, '')
  const first = text.split(/\r?\n/).find(l => l.trim() !== '')
  return first !== undefined && detectFormat(first + '\n') === 'ndjson' && !/"(messages|chats)"\s*:/.test(first)
}

/**
 * A pipe (`<(command)`, a FIFO) or standard input: it cannot be read at a position, so its first bytes
 * are read as they come and tell the format. NDJSON goes on streaming from there (only those first
 * bytes are held); a Telegram or WhatsApp chat is held whole (up to MAX_PIPED_TEXT), as its importer
 * parses it whole. A zip keeps its index at its end and is read at random: a stream cannot carry one.
 */
async function openStream (read: () => Promise<AsyncIterable<Uint8Array>>, stream: { name: string, label: string, main: string, zip: string, title: string }, forced?: ImportFormat): Promise<OpenedExport> {
  const chunks: Buffer[] = []
  let size = 0
  let rest: AsyncIterator<Uint8Array>
  try {
    rest = (await read())[Symbol.asyncIterator]()
    while (size < HEAD_BYTES && !headTells(Buffer.concat(chunks), forced)) {
      const next = await rest.next()
      if (next.done === true) break
      chunks.push(Buffer.from(next.value))
      size += next.value.byteLength
    }
  } catch (err) {
    throw bad(unreadable(stream.label, err))
  }
  const head = Buffer.concat(chunks)
  if (isZipHead(head)) throw bad(stream.zip)
  const format = forced ?? detectFormat(decodeHead(head.subarray(0, HEAD_BYTES)), stream.name)
  if (format === undefined) throw bad(`${stream.label}: ${NOT_RECOGNISED}`)
  const remaining = { [Symbol.asyncIterator]: () => rest }
  if (format === 'ndjson') {
    return { format, file: stream.name, input: (async function * () { yield head; yield * remaining })() }
  }
  try {
    for await (const chunk of remaining) {
      size += chunk.byteLength
      if (size > MAX_PIPED_TEXT) throw bad(`${stream.label} is larger than ${MAX_PIPED_TEXT / 1024 / 1024} MiB: too large to read as a chat`)
      chunks.push(Buffer.from(chunk))
    }
  } catch (err) {
    throw err instanceof FerryError ? err : bad(unreadable(stream.label, err))
  }
  return { format, file: stream.name, source: new PipedFileSource(stream.label, stream.main, Buffer.concat(chunks)), main: stream.main, title: stream.title }
}

async function openPipe (path: string, abs: string, forced?: ImportFormat): Promise<OpenedExport> {
  const name = basename(abs)
  return await openStream(async () => await readStream(abs), {
    name: abs,
    label: path,
    main: name,
    zip: `${path} is a pipe carrying a zip archive: a zip is read from its end, which a pipe cannot give. Save it to a file and import that`,
    // `<(command)` is named by a number (/dev/fd/63), which is no chat's title.
    title: /^\d+$/.test(name) ? 'WhatsApp chat' : titleFromName(name)
  }, forced)
}

/** How standard input is named in what an import says. */
export const STDIN_LABEL = 'standard input'

/** Standard input (`ferry import -`), read as a pipe is: any format one file can be, told by its first bytes. */
export async function openStdin (input: AsyncIterable<Uint8Array>, forced?: ImportFormat): Promise<OpenedExport> {
  return await openStream(async () => input, {
    name: STDIN_LABEL,
    label: STDIN_LABEL,
    main: STDIN_LABEL,
    zip: `${STDIN_LABEL} carries a zip archive: a zip is read from its end, which a stream cannot give. Give the archive's path instead (ferry import FILE.zip)`,
    title: 'WhatsApp chat'
  }, forced)
}

/** Reads a file's first bytes and decides its format (undefined when it is none). */
export async function detectFileFormat (path: string): Promise<ImportFormat | undefined> {
  try {
    return detectFormat(await fileHead(path), path)
  } catch (err) {
    throw bad(unreadable(path, err))
  }
}

/** Why `path` cannot be read, as a person fixes it ("x does not exist"), else the system's own word. */
function unreadable (path: string, err: unknown): string {
  return readReason(err, path) ?? `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`
}
