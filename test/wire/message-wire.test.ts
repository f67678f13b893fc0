import { describe, expect, it } from 'vitest'
import { messageFromWire, messageToWire } from '../../src/wire/message-wire.js'
import { ferry } from '../../src/wire/codec.js'
import type { Message } from '../../src/store/model.js'

// The receiver's first check of a message: what the sender encodes comes back equal, and fields that
// break the model's rules (an empty id where one is needed) are refused rather than stored.

const decode = (m: ferry.Message.$Properties): ferry.Message => ferry.Message.decode(ferry.Message.encode(m).finish())

describe('messages on the wire', () => {
  it('carry the fields imports keep, and leave absent ones absent', () => {
    const rich: Message = {
      conversation: 'c', id: 'm', sender: 'u', ts: 1, kind: 'file', forwardedFrom: '', viaBot: 'gif', editedAt: 1704056520000,
      pinned: '41', fileName: 'LICENSE.md', links: [{ text: 'here', url: 'https://example.org' }, { url: 'tg://user?id=7' }]
    }
    expect(messageFromWire(decode(messageToWire(rich)))).toEqual(rich)
    const plain: Message = { conversation: 'c', id: 'm', sender: 'u', ts: 1, kind: 'text' }
    expect(messageFromWire(decode(messageToWire(plain)))).toEqual(plain)
  })

  it('refuses an empty bot, pin target, file name or link url', () => {
    const base = { conversation: 'c', id: 'm', sender: 'u', ts: 1, kind: 'text' }
    for (const bad of [{ viaBot: '' }, { pinned: '' }, { fileName: '' }, { links: [{ text: 'x', url: '' }] }]) {
      expect(() => messageFromWire(decode({ ...base, ...bad }))).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }))
    }
  })
})
