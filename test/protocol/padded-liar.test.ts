import { afterEach, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf } from '../helpers/transfer.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import { runReceiver, runSender } from '../../src/protocol/session.js'
import { memoryPipe } from '../../src/wire/memory-duplex.js'
import { decodeFrame, encodeFrame, frameLength } from '../../src/wire/codec.js'

// A lying sender whose messages' bytes are not the encoding made from them (each carries an unknown
// field: the same Message once decoded) and whose Done does not match: its refusal takes back all it
// wrote, and is not blamed on the new phone's person. The undo log's digest of a message is of the
// encoding made from it, as the undo's of the stored one; a digest of the bytes as they came would read
// every one as changed here since, and leave it.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }
afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const concat = (parts: Uint8Array[]): Uint8Array => { const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.byteLength } return out }
function varint (n: number): number[] { const b: number[] = []; while (n > 127) { b.push((n & 127) | 128); n >>>= 7 } b.push(n); return b }
function readVarint (buf: Uint8Array, pos: number): [number, number] { let n = 0; let s = 0; for (;;) { const b = buf[pos++]; n += (b & 127) * 2 ** s; s += 7; if (b < 128) return [n, pos] } }
// Each message's bytes with an unknown field (111, varint 1) appended: the same Message once decoded.
function padded (body: Uint8Array): Uint8Array {
  let [len, pos] = readVarint(body, 1)
  const out: number[] = []
  while (pos < body.byteLength) {
    const tag = body[pos++]
    ;[len, pos] = readVarint(body, pos)
    const m = [...body.subarray(pos, pos + len), 0xf8, 0x06, 0x01]
    pos += len
    out.push(tag, ...varint(m.length), ...m)
  }
  return new Uint8Array([body[0], ...varint(out.length), ...out])
}

it('a sender whose message bytes carry an unknown field: its refused transfer is taken back', async () => {
  const source = openStore()
  await fillStore(source, { conversations: 2, messagesPerConversation: 50, mediaSizes: [] })
  const target = openStore()
  const pipe = memoryPipe({})
  const sender = new SenderMachine({ source, options: OPTIONS })
  const next = sender.next.bind(sender)
  let inside = false
  sender.next = async () => {
    if (inside) return await next()
    inside = true
    try {
      const f = await next()
      if (f === undefined) return f
      const body = concat(f)
      const frame = decodeFrame(body)
      if (frame.body === 'batch') {
        const p = padded(body)
        sender.progress.bytesSent += p.byteLength - frameLength(f)
        return [p]
      }
      if (frame.body === 'done') {
        const d = frame.done as { conversations: Array<{ digest: Uint8Array }> }
        d.conversations[0].digest = new Uint8Array(d.conversations[0].digest); d.conversations[0].digest[0] ^= 1
        return encodeFrame({ done: d })
      }
      return f
    } finally { inside = false }
  }
  const receiver = new ReceiverMachine({ sink: target, journal: journalOf(target), options: OPTIONS })
  const [s, r] = await Promise.allSettled([runSender(sender, pipe.a), runReceiver(receiver, pipe.b)])
  const err = r.status === 'rejected' ? r.reason : undefined
  expect(s.status).toBe('rejected')
  expect(receiver.state).toBe('failed')
  expect(err?.code).toBe('DIGEST_MISMATCH')
  expect(err?.details?.changedHere).toBeUndefined()
  expect(target.stats().messages).toBe(0)
  source.close(); target.close()
})
