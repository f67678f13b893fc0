import { describe, expect, it } from 'vitest'
import { ChunkBuffers } from '../../src/protocol/chunk-buffers.js'

/** Takes `length` bytes, fills them with `byte`, and sends them in a frame ending at `end`. */
function send (b: ChunkBuffers, length: number, byte: number, end: number): Uint8Array {
  const room = b.take(length)
  room.fill(byte)
  b.sent(length, end)
  return room
}

describe('ChunkBuffers', () => {
  it('packs small chunks into one slab and never hands out bytes still in flight', () => {
    const b = new ChunkBuffers(100, 4)
    const sent: Array<{ view: Uint8Array, byte: number, end: number }> = []
    let end = 0
    let acked = 0
    for (let i = 0; i < 40; i++) {
      const length = 10 + (i * 7) % 60
      end += length + 5
      sent.push({ view: send(b, length, i, end), byte: i, end })
      acked = Math.max(acked, end - 200)
      b.acked(acked)
      // Every frame the receiver has not acknowledged still holds its own bytes.
      for (const s of sent.filter(s => s.end > acked)) expect(s.view.every(x => x === s.byte)).toBe(true)
    }
    expect(b.allocated).toBeLessThan(10)
    expect(b.allocated).toBeGreaterThan(1)
  })

  it('reuses a slab only once the ack passes the end of its last frame', () => {
    const b = new ChunkBuffers(100, 4)
    const first = send(b, 60, 1, 65)
    send(b, 30, 2, 100) // same slab
    send(b, 60, 3, 165) // does not fit: a second slab; the first waits for an ack past 100
    b.acked(99)
    expect(b.reusable).toBe(0)
    b.acked(100)
    expect(b.reusable).toBe(1)
    const again = send(b, 60, 4, 230) // does not fit the second slab: the first is reused
    expect(again.buffer).toBe(first.buffer)
    expect(b.allocated).toBe(2)
  })

  it('keeps nothing for reuse when it will never be acked (a backup file)', () => {
    const b = new ChunkBuffers(100, 0)
    const views = Array.from({ length: 10 }, (_, i) => send(b, 100, i, (i + 1) * 105))
    b.acked(10 * 105)
    expect(b.reusable).toBe(0)
    expect(b.allocated).toBe(10)
    views.forEach((v, i) => expect(v.every(x => x === i)).toBe(true))
  })

  it('leaves the room of a chunk that was not sent to the next one', () => {
    const b = new ChunkBuffers(100, 4)
    const unsent = b.take(40)
    const next = send(b, 40, 9, 45)
    expect(next.byteOffset).toBe(unsent.byteOffset)
    expect(() => b.take(101)).toThrow(RangeError)
  })
})
