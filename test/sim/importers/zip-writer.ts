import { deflateRawSync, crc32 } from 'node:zlib'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

// A small zip writer for tests: archives of the fixtures as the phones make them, and archives built
// to attack a reader (paths that leave the archive, sizes that lie, entries sharing their data).

export interface ZipEntry {
  name: string
  data: Uint8Array
  /** deflate (default) or store. */
  method?: 'deflate' | 'store'
  /** Declare this uncompressed size instead of the real one (a lying archive). */
  declaredSize?: number
  /** Point this entry's central record at the local data of an earlier entry (overlapping entries). */
  sharesWith?: string
  encrypted?: boolean
  /** Leave the UTF-8 flag off (as Info-ZIP and macOS Archive Utility do), the name still written as UTF-8. */
  noUtf8Flag?: boolean
  /** The name's bytes as written, instead of `name` in UTF-8 (an archiver writing CP437). */
  rawName?: Uint8Array
  /** Flip the first byte written after its CRC-32 was taken, as a bad copy or download would. */
  damaged?: boolean
}

export function zipBytes (entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = []
  const central: Buffer[] = []
  const offsets = new Map<string, { offset: number, csize: number, crc: number, usize: number, method: number }>()
  let offset = 0
  for (const e of entries) {
    const name = e.rawName === undefined ? Buffer.from(e.name, 'utf8') : Buffer.from(e.rawName)
    const flags = (e.noUtf8Flag === true || e.rawName !== undefined ? 0 : 0x0800) | (e.encrypted === true ? 1 : 0)
    let rec = e.sharesWith === undefined ? undefined : offsets.get(e.sharesWith)
    if (rec === undefined) {
      const method = e.method === 'store' ? 0 : 8
      const body = method === 8 ? deflateRawSync(e.data) : Buffer.from(e.data)
      const crc = crc32(e.data)
      if (e.damaged === true) body[0] ^= 0xff
      const usize = e.declaredSize ?? e.data.byteLength
      const local = Buffer.alloc(30)
      local.writeUInt32LE(0x04034b50, 0)
      local.writeUInt16LE(20, 4)
      local.writeUInt16LE(flags, 6)
      local.writeUInt16LE(method, 8)
      local.writeUInt16LE(0, 10)
      local.writeUInt16LE(0x5821, 12) // 2024-01-01
      local.writeUInt32LE(crc, 14)
      local.writeUInt32LE(body.byteLength, 18)
      local.writeUInt32LE(usize, 22)
      local.writeUInt16LE(name.byteLength, 26)
      local.writeUInt16LE(0, 28)
      rec = { offset, csize: body.byteLength, crc, usize, method }
      offsets.set(e.name, rec)
      locals.push(local, name, body)
      offset += local.byteLength + name.byteLength + body.byteLength
    }
    const c = Buffer.alloc(46)
    c.writeUInt32LE(0x02014b50, 0)
    c.writeUInt16LE(20, 4)
    c.writeUInt16LE(20, 6)
    c.writeUInt16LE(flags, 8)
    c.writeUInt16LE(rec.method, 10)
    c.writeUInt16LE(0, 12)
    c.writeUInt16LE(0x5821, 14)
    c.writeUInt32LE(rec.crc, 16)
    c.writeUInt32LE(rec.csize, 20)
    c.writeUInt32LE(e.declaredSize ?? rec.usize, 24)
    c.writeUInt16LE(name.byteLength, 28)
    c.writeUInt32LE(rec.offset, 42)
    central.push(c, name)
  }
  const cd = Buffer.concat(central)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(cd.byteLength, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, cd, end])
}

/** Every file under `dir` (names relative to it, '/'-separated), optionally under a folder `prefix`. */
export function folderEntries (dir: string, prefix = ''): ZipEntry[] {
  const out: ZipEntry[] = []
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`
      if (statSync(join(dir, r)).isDirectory()) walk(r)
      else out.push({ name: prefix + r, data: readFileSync(join(dir, r)) })
    }
  }
  walk('')
  return out
}

export function writeZip (path: string, entries: ZipEntry[]): string {
  writeFileSync(path, zipBytes(entries))
  return path
}
