// The two halves of deflated batches, node:zlib and the browser's DecompressionStream (which Node has
// too): the same bytes in, the same refusals for what is no DEFLATE stream or inflates too far.
import { deflateRawSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { nodeBatchDeflate } from '../../src/wire/deflate-node.js'
import { browserBatchInflate, canInflateRaw } from '../../src/web/inflate.js'

const text = new TextEncoder().encode(Array.from({ length: 4000 }, (_, i) => `message ${i} from contact-${i % 7}: see you at ${i % 24}:00`).join('\n'))

describe.each([['node:zlib', nodeBatchDeflate.inflate], ['DecompressionStream', browserBatchInflate.inflate]])('inflating with %s', (_name, inflate) => {
  it('gives back what was deflated, and the deflate is smaller', async () => {
    const deflated = nodeBatchDeflate.deflate(text)
    expect(deflated.byteLength).toBeLessThan(text.byteLength / 3)
    expect(Buffer.from(await inflate(deflated, text.byteLength))).toEqual(Buffer.from(text))
  })

  it('refuses a stream that inflates past the limit', async () => {
    // 64 MiB of zeros deflate to ~64 KiB: what a hostile sender would send to exhaust memory.
    const bomb = deflateRawSync(new Uint8Array(64 * 1024 * 1024))
    await expect(inflate(bomb, 1024 * 1024)).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' })
    await expect(inflate(nodeBatchDeflate.deflate(text), text.byteLength - 1)).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' })
  })

  it('refuses bytes that are no DEFLATE stream, or one cut short', async () => {
    await expect(inflate(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x00, 0x13]), 1024)).rejects.toMatchObject({ code: 'MALFORMED_FRAME' })
    const deflated = nodeBatchDeflate.deflate(text)
    await expect(inflate(deflated.subarray(0, deflated.byteLength >> 1), text.byteLength)).rejects.toMatchObject({ code: 'MALFORMED_FRAME' })
  })
})

describe('a browser without raw DEFLATE', () => {
  it('is told apart, so that it asks for plain batches', () => {
    expect(canInflateRaw()).toBe(true)
    const real = globalThis.DecompressionStream
    try {
      // As an older browser's: the class exists, the format does not.
      globalThis.DecompressionStream = class { constructor (format: string) { if (format === 'deflate-raw') throw new TypeError(`unsupported format ${format}`) } } as unknown as typeof DecompressionStream
      expect(canInflateRaw()).toBe(false)
      ;(globalThis as { DecompressionStream?: unknown }).DecompressionStream = undefined
      expect(canInflateRaw()).toBe(false)
    } finally {
      globalThis.DecompressionStream = real
    }
  })
})
