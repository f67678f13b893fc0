import { crc32, deflateSync } from 'node:zlib'

/** A real w×h RGB PNG (a diagonal gradient in the given hue), so the page has pictures that render. */
export function gradientPng (w: number, h: number, rgb: [number, number, number]): Buffer {
  const rows: Buffer[] = []
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3) // filter byte 0, then pixels
    for (let x = 0; x < w; x++) {
      const f = (x + y) / (w + h)
      row[1 + x * 3] = Math.round(rgb[0] * f)
      row[2 + x * 3] = Math.round(rgb[1] * f)
      row[3 + x * 3] = Math.round(rgb[2] * f)
    }
    rows.push(row)
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body) >>> 0)
    return Buffer.concat([len, body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0))
  ])
}
