import { describe, expect, it } from 'vitest'
import { writtenDigest } from '../../src/protocol/written-digest.js'
import { encodedMessage } from '../../src/protocol/leaves.js'
import type { Message } from '../../src/store/model.js'

// Undo logs, journals and message bases written by earlier versions hold these digests: an undo and a
// base compare them with the digest of a message read now, so the function must give the same values
// for ever (a new definition needs a new format version). The values below are those it gave when
// they were first kept.

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('writtenDigest', () => {
  it('gives the values earlier versions kept', () => {
    expect(hex(writtenDigest(new Uint8Array(0)))).toBe('c223ada330a00dd6')
    expect(hex(writtenDigest(new TextEncoder().encode('abc')))).toBe('a3614a73c0117aed')
    expect(hex(writtenDigest(Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff)))).toBe('a19a6ef62f3d64c2')
    const m: Message = { conversation: 'c1', id: 'm1', ts: 1700000000000, sender: 'alice', kind: 'text', text: 'hello, ferry' }
    expect(hex(writtenDigest(encodedMessage(m)))).toBe('907df77b7b78ff63')
  })

  it('digests the same bytes alike in a Buffer, a Uint8Array and a view into a larger one', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff)
    const inLarger = new Uint8Array(1010)
    inLarger.set(bytes, 5)
    const view = inLarger.subarray(5, 1005)
    expect(hex(writtenDigest(Buffer.from(bytes)))).toBe('a19a6ef62f3d64c2')
    expect(hex(writtenDigest(view))).toBe('a19a6ef62f3d64c2')
  })
})
