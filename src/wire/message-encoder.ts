import { protobuf } from './protobuf-runtime.js'
import type { Message } from '../store/model.js'

// One chat message's encoding, the bytes a transfer sends and digests, written from the model's object
// straight into one reused protobufjs writer. The generated ferry.Message.encode of messageToWire(m)
// writes the same bytes (test/wire/message-encoder.test.ts holds the two equal), but per message it
// built a wire object, a writer and its buffer, and asked hasOwnProperty of seventeen fields; a
// message-heavy transfer encodes every message twice (the old phone to send it, the new one to read it
// back), and that was a large part of both phones' CPU. The writer's own primitives write each field, so
// strings are encoded as the generated code encodes them wherever it runs (Node's Buffer or plain JS).

// Field tags of ferry.Message (proto/ferry.proto): field number << 3 | wire type.
const CONVERSATION = 10
const ID = 18
const SENDER = 26
const TS = 32
const KIND = 42
const TEXT = 50
const MEDIA = 58
const DURATION_MS = 64
const LOCATION = 74
const REPLY_TO = 82
const STATUS = 90
const FORWARDED_FROM = 98
const VIA_BOT = 106
const EDITED_AT = 112
const PINNED = 122
const FILE_NAME = 130
const LINKS = 138
// ferry.Location and ferry.Link.
const LAT = 9
const LON = 17
const LABEL = 26
const LINK_TEXT = 10
const LINK_URL = 18

/** A writer whose buffer grew past this for one long message is dropped, not kept for ever. */
const KEEP_BYTES = 64 * 1024

let writer = protobuf.Writer.create()

/**
 * The protobuf encoding of a chat message (ferry.Message), exactly as
 * `ferry.Message.encode(messageToWire(m)).finish()` writes it: implicit-presence fields (the key, ts,
 * kind, a location's coordinates, a link's url) are left out when they hold their default, optional
 * ones whenever they are set.
 */
export function encodeChatMessage (m: Message): Uint8Array {
  const w = writer
  // A call that threw half-way (a field of the wrong type) left its place and any open nesting behind.
  w.pos = 0
  if (w.states !== null) w.states.length = 0
  if (m.conversation != null && m.conversation !== '') w.uint32(CONVERSATION).string(m.conversation)
  if (m.id != null && m.id !== '') w.uint32(ID).string(m.id)
  if (m.sender != null && m.sender !== '') w.uint32(SENDER).string(m.sender)
  if (m.ts != null && m.ts !== 0) w.uint32(TS).int64(m.ts)
  if (m.kind != null && (m.kind as string) !== '') w.uint32(KIND).string(m.kind)
  if (m.text != null) w.uint32(TEXT).string(m.text)
  if (m.media != null) w.uint32(MEDIA).string(m.media)
  if (m.durationMs != null) w.uint32(DURATION_MS).int64(m.durationMs)
  const loc = m.location
  if (loc != null) {
    w.uint32(LOCATION).fork()
    if (loc.lat != null && !Object.is(loc.lat, 0)) w.uint32(LAT).double(loc.lat)
    if (loc.lon != null && !Object.is(loc.lon, 0)) w.uint32(LON).double(loc.lon)
    if (loc.label != null) w.uint32(LABEL).string(loc.label)
    w.ldelim()
  }
  if (m.replyTo != null) w.uint32(REPLY_TO).string(m.replyTo)
  if (m.status != null) w.uint32(STATUS).string(m.status)
  if (m.forwardedFrom != null) w.uint32(FORWARDED_FROM).string(m.forwardedFrom)
  if (m.viaBot != null) w.uint32(VIA_BOT).string(m.viaBot)
  if (m.editedAt != null) w.uint32(EDITED_AT).int64(m.editedAt)
  if (m.pinned != null) w.uint32(PINNED).string(m.pinned)
  if (m.fileName != null) w.uint32(FILE_NAME).string(m.fileName)
  if (m.links != null) {
    for (const l of m.links) {
      w.uint32(LINKS).fork()
      if (l.text != null) w.uint32(LINK_TEXT).string(l.text)
      if (l.url != null && l.url !== '') w.uint32(LINK_URL).string(l.url)
      w.ldelim()
    }
  }
  const out = w.finish()
  if (w.buf.length > KEEP_BYTES) writer = protobuf.Writer.create()
  return out
}
