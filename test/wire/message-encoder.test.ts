import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { fc } from '../helpers/property.js'
import { describe, expect, it } from 'vitest'
import { encodeChatMessage } from '../../src/wire/message-encoder.js'
import { ferry } from '../../src/wire/codec.js'
import { messageFromWire, messageToWire } from '../../src/wire/message-wire.js'
import { MESSAGE_KINDS, MESSAGE_STATUSES, type Message } from '../../src/store/model.js'

// A message's encoding is what both phones digest: the old phone's bytes as it sends them, the new
// phone's as it reads back what it stored. Any byte the fast encoder writes differently from the
// generated code fails every transfer between a phone that has it and one that does not.

const generated = (m: Message): Uint8Array => ferry.Message.encode(messageToWire(m)).finish()

// Strings across the writer's cases: empty, short and long (its paths split at 40 and 128 code units),
// multi-byte, astral, and lone surrogates.
const text = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.constantFrom('', 'a'.repeat(39), 'a'.repeat(40), 'é'.repeat(43), 'é'.repeat(64), 'x'.repeat(127), 'x'.repeat(128), '😀'.repeat(70), '\ud800', 'a\udc00b')
)
const int = fc.oneof(fc.constantFrom(0, -0, 1, -1, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1)), fc.maxSafeInteger(), fc.integer())
const coordinate = fc.oneof(fc.constantFrom(0, -0, 1.5, -179.999999), fc.double({ noNaN: true }))

const locationFields = { lat: coordinate, lon: coordinate, label: text }
const linkFields = { text, url: text }
const messageFields = {
  conversation: text,
  id: text,
  sender: text,
  ts: int,
  kind: fc.constantFrom(...MESSAGE_KINDS),
  text,
  media: fc.constantFrom('a'.repeat(64), ''),
  durationMs: int,
  location: fc.record(locationFields, { requiredKeys: ['lat', 'lon'] }),
  replyTo: text,
  status: fc.constantFrom(...MESSAGE_STATUSES),
  forwardedFrom: text,
  viaBot: text,
  editedAt: int,
  pinned: text,
  fileName: text,
  links: fc.array(fc.record(linkFields, { requiredKeys: ['url'] }), { maxLength: 3 })
}
const message: fc.Arbitrary<Message> = fc.record(messageFields, { requiredKeys: ['conversation', 'id', 'sender', 'ts', 'kind'] })

describe('a chat message encoded for sending and digesting', () => {
  // A field proto/ferry.proto gains must reach the encoder, or both phones would digest and send
  // messages without it and verify all the same: the property below varies every field the proto has.
  it('is checked over every field the proto gives a message, its location and its links', () => {
    const root = protobuf.loadSync(fileURLToPath(new URL('../../proto/ferry.proto', import.meta.url)))
    const fields = (type: string): string[] => Object.keys(root.lookupType(type).fields).sort()
    expect(Object.keys(messageFields).sort()).toEqual(fields('ferry.Message'))
    expect(Object.keys(locationFields).sort()).toEqual(fields('ferry.Location'))
    expect(Object.keys(linkFields).sort()).toEqual(fields('ferry.Link'))
  })

  it('is byte for byte what the generated protobuf code writes', () => {
    fc.assert(fc.property(message, m => {
      expect(Buffer.from(encodeChatMessage(m)).toString('hex')).toBe(Buffer.from(generated(m)).toString('hex'))
    }), { numRuns: 2000 })
  })

  it('comes back as the same message from the generated decoder', () => {
    const m: Message = {
      conversation: 'c', id: 'm', sender: 'u', ts: 1704056520000, kind: 'location', location: { lat: 52.5, lon: 13.4, label: 'Berlin' },
      replyTo: 'l', status: 'read', forwardedFrom: '', viaBot: 'gif', editedAt: 1704056580000, pinned: '41', fileName: 'a.txt',
      links: [{ text: 'here', url: 'https://example.org' }, { url: 'tg://user?id=7' }]
    }
    expect(messageFromWire(ferry.Message.decode(encodeChatMessage(m)))).toEqual(m)
  })

  it('is a copy of its own, unchanged by the messages encoded after it', () => {
    const first = encodeChatMessage({ conversation: 'c', id: 'one', sender: 'u', ts: 5, kind: 'text', text: 'first' })
    const before = Buffer.from(first).toString('hex')
    encodeChatMessage({ conversation: 'c', id: 'two', sender: 'u', ts: 6, kind: 'text', text: 'x'.repeat(100_000) })
    encodeChatMessage({ conversation: 'c', id: 'three', sender: 'v', ts: 7, kind: 'text', text: 'second' })
    expect(Buffer.from(first).toString('hex')).toBe(before)
  })
})
