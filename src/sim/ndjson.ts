import { ErrorCode, FerryError } from '../errors.js'
import {
  CONVERSATION_KINDS, MESSAGE_KINDS, MESSAGE_STATUSES,
  type Contact, type Conversation, type MediaRecord, type Message
} from '../store/model.js'
import { isHashHex } from '../hash-hex.js'

// The canonical NDJSON format: one record per line, `type` first, then the record's fields in a fixed
// order, absent fields left out. One table of fields per record type drives both directions, so the
// order that export writes and the rules that import checks cannot drift apart.

export type ContactLine = { type: 'contact' } & Contact
export type ConversationLine = { type: 'conversation' } & Conversation
/** `path` (relative to the NDJSON file) locates the bytes: read on import, written by export with media. */
export type MediaLine = { type: 'media', path?: string } & MediaRecord
export type MessageLine = { type: 'message' } & Message
export type NdjsonRecord = ContactLine | ConversationLine | MediaLine | MessageLine
export type RecordType = NdjsonRecord['type']
type Body<T extends RecordType> = Omit<Extract<NdjsonRecord, { type: T }>, 'type'>

/** Returns why a value is wrong ("must be ..."), or undefined when it is right. */
type Check = (v: unknown) => string | undefined

interface Field {
  key: string
  optional?: boolean
  check: Check
  /** An object value with fields of its own (a location), written in its own fixed order. */
  nested?: readonly Field[]
  /** A non-empty array of objects with fields of their own (links), each written in their fixed order. */
  items?: readonly Field[]
}

const wellFormed = (v: unknown): v is string => typeof v === 'string' && v.isWellFormed()

// Ids name rows and file references: an empty one is always a mistake. Other text may be "".
const id: Check = v => wellFormed(v) && v.length > 0 ? undefined : 'must be a non-empty string'
const text: Check = v => wellFormed(v) ? undefined : 'must be a string of valid Unicode'
const oneOf = (values: readonly string[]): Check => v => typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.join(', ')}`
const integer: Check = v => Number.isSafeInteger(v) ? undefined : 'must be an integer'
const count: Check = v => Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : 'must be a non-negative integer'
const sha256: Check = v => typeof v === 'string' && isHashHex(v) ? undefined : 'must be a sha256: 64 lowercase hex digits'
const between = (lo: number, hi: number): Check => v => typeof v === 'number' && v >= lo && v <= hi ? undefined : `must be a number from ${lo} to ${hi}`
const object: Check = v => typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'must be an object'
const objects: Check = v => Array.isArray(v) && v.length > 0 && v.every(x => object(x) === undefined)
  ? undefined
  : 'must be a non-empty array of objects (leave an absent field out)'
const members: Check = v => {
  if (!Array.isArray(v)) return 'must be an array of ids'
  if (v.some(m => id(m) !== undefined)) return 'must hold only non-empty strings'
  return new Set(v).size === v.length ? undefined : 'must not list a member twice'
}

const LOCATION: readonly Field[] = [
  { key: 'lat', check: between(-90, 90) },
  { key: 'lon', check: between(-180, 180) },
  { key: 'label', optional: true, check: text }
]

const LINK: readonly Field[] = [
  { key: 'text', optional: true, check: text },
  { key: 'url', check: id }
]

// Optional fields are not tied to a message's kind: apps record what they record (a recalled image
// keeps no media, a system message may carry text), and the store carries exactly what it is given.
const FIELDS: { [T in RecordType]: readonly Field[] } = {
  contact: [
    { key: 'id', check: id },
    { key: 'name', check: text },
    { key: 'phone', optional: true, check: text }
  ],
  conversation: [
    { key: 'id', check: id },
    { key: 'kind', check: oneOf(CONVERSATION_KINDS) },
    { key: 'title', check: text },
    { key: 'members', check: members }
  ],
  media: [
    { key: 'sha256', check: sha256 },
    { key: 'size', check: count },
    { key: 'mime', check: text },
    { key: 'path', optional: true, check: id }
  ],
  message: [
    { key: 'conversation', check: id },
    { key: 'id', check: id },
    { key: 'sender', check: id },
    { key: 'ts', check: integer },
    { key: 'kind', check: oneOf(MESSAGE_KINDS) },
    { key: 'text', optional: true, check: text },
    { key: 'media', optional: true, check: sha256 },
    { key: 'durationMs', optional: true, check: count },
    { key: 'location', optional: true, check: object, nested: LOCATION },
    { key: 'replyTo', optional: true, check: id },
    { key: 'status', optional: true, check: oneOf(MESSAGE_STATUSES) },
    // Added later (all optional, so older files stay valid); see docs/format.md.
    { key: 'forwardedFrom', optional: true, check: text },
    { key: 'viaBot', optional: true, check: id },
    { key: 'editedAt', optional: true, check: integer },
    { key: 'pinned', optional: true, check: id },
    { key: 'fileName', optional: true, check: id },
    { key: 'links', optional: true, check: objects, items: LINK }
  ]
}

const TYPES = Object.keys(FIELDS) as RecordType[]

// ---- writing ------------------------------------------------------------------------------------------

/** Each field's `"key":` prefix, built once: export writes millions of these. */
const prefixes = new Map<Field, string>()
for (const fields of [...Object.values(FIELDS), LOCATION, LINK]) for (const f of fields) prefixes.set(f, `${JSON.stringify(f.key)}:`)

function writeFields (value: Record<string, unknown>, fields: readonly Field[]): string {
  let out = ''
  for (const f of fields) {
    const v = value[f.key]
    if (v === undefined) continue
    const encoded = f.nested !== undefined
      ? `{${writeFields(v as Record<string, unknown>, f.nested)}}`
      : f.items !== undefined
        ? `[${(v as Array<Record<string, unknown>>).map(x => `{${writeFields(x, f.items as readonly Field[])}}`).join(',')}]`
        : JSON.stringify(v)
    out += (out === '' ? '' : ',') + (prefixes.get(f) as string) + encoded
  }
  return out
}

/**
 * The canonical line (without its newline) for one record: `type` first, fields in the fixed order,
 * absent ones omitted. Properties the format does not know are ignored, so model objects go in as they are.
 */
export function toLine<T extends RecordType> (type: T, value: Body<T>): string {
  const body = writeFields(value as unknown as Record<string, unknown>, FIELDS[type])
  return `{"type":${JSON.stringify(type)}${body === '' ? '' : ','}${body}}`
}

export function serializeRecord (record: NdjsonRecord): string {
  return toLine(record.type, record as Body<typeof record.type>)
}

// ---- reading ------------------------------------------------------------------------------------------

function invalid (reason: string): never {
  throw new FerryError(ErrorCode.BAD_INPUT, reason)
}

function show (v: unknown): string {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 40 ? `${s.slice(0, 37)}...` : s
}

function readFields (value: Record<string, unknown>, fields: readonly Field[], what: string, extra?: string): Record<string, unknown> {
  for (const key of Object.keys(value)) {
    if (key !== extra && !fields.some(f => f.key === key)) invalid(`${what} has an unknown field ${JSON.stringify(key)}`)
  }
  const out: Record<string, unknown> = {}
  for (const f of fields) {
    const v = value[f.key]
    if (v === undefined) {
      if (f.optional !== true) invalid(`${what} is missing "${f.key}"`)
      continue
    }
    if (v === null) invalid(`${what} "${f.key}" is null: leave an absent field out`)
    const reason = f.check(v)
    if (reason !== undefined) invalid(`${what} "${f.key}" ${reason}, got ${show(v)}`)
    out[f.key] = f.nested !== undefined
      ? readFields(v as Record<string, unknown>, f.nested, `${what} ${f.key}`)
      : f.items !== undefined
        ? (v as Array<Record<string, unknown>>).map((x, i) => readFields(x, f.items as readonly Field[], `${what} ${f.key}[${i}]`))
        : v
  }
  return out
}

/**
 * Parses and validates one line. Keys may come in any order; unknown keys, nulls, wrong types and
 * unknown enum values are refused with a FerryError (BAD_INPUT) whose message is the reason alone
 * (the caller knows the line number). The result holds only the format's fields.
 */
export function parseLine (line: string): NdjsonRecord {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (err) {
    invalid(`invalid JSON: ${(err as Error).message}`)
  }
  if (object(value) !== undefined) invalid(`a line must be a JSON object, got ${show(value)}`)
  const type = (value as Record<string, unknown>).type
  if (type === undefined) invalid('the record has no "type"')
  if (!TYPES.includes(type as RecordType)) invalid(`unknown type ${show(type)} (expected ${TYPES.join(', ')})`)
  const body = readFields(value as Record<string, unknown>, FIELDS[type as RecordType], type as string, 'type')
  return { type, ...body } as NdjsonRecord
}

// ---- framing ------------------------------------------------------------------------------------------

/** A line of input with its 1-based number. */
export interface NumberedLine {
  n: number
  text: string
}

/** Longest line accepted: above the protocol's largest message, even with its text escaped. */
export const MAX_LINE_BYTES = 256 * 1024 * 1024

/**
 * Splits a byte stream into lines (LF, with an optional CR before it; the last line needs no newline),
 * decoding each as strict UTF-8. Blank lines are yielded too: numbering must match what an editor shows.
 */
export async function * readLines (input: AsyncIterable<Uint8Array | string>, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<NumberedLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let pending: Buffer[] = []
  let pendingBytes = 0
  let n = 0
  /** Counts and decodes the next line. */
  const decode = (bytes: Buffer): string => {
    n++
    if (bytes.byteLength > maxLineBytes) invalid(`line ${n}: longer than ${maxLineBytes} bytes`)
    const end = bytes.byteLength > 0 && bytes[bytes.byteLength - 1] === 13 ? bytes.byteLength - 1 : bytes.byteLength
    try {
      return decoder.decode(bytes.subarray(0, end))
    } catch {
      return invalid(`line ${n}: not valid UTF-8`)
    }
  }
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let start = 0
    for (;;) {
      const nl = buf.indexOf(10, start)
      if (nl === -1) {
        if (start < buf.byteLength) {
          pending.push(buf.subarray(start))
          pendingBytes += buf.byteLength - start
          if (pendingBytes > maxLineBytes) invalid(`line ${n + 1}: longer than ${maxLineBytes} bytes`)
        }
        break
      }
      let line = buf.subarray(start, nl)
      if (pending.length > 0) {
        line = Buffer.concat([...pending, line])
        pending = []
        pendingBytes = 0
      }
      const text = decode(line)
      yield { n, text }
      start = nl + 1
    }
  }
  if (pendingBytes > 0) {
    const text = decode(Buffer.concat(pending))
    yield { n, text }
  }
}
