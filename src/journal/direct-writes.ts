import { closeSync, constants, openSync, rmSync, write as writeFd, writeSync } from 'node:fs'
import { childPath } from '../child-path.js'
import { PRIVATE_FILE_MODE } from '../private-files.js'

// A receiving phone makes every media byte durable before it says verified. Written through the page
// cache, each byte is first copied into a cache page, on the main thread that also decrypts and hashes
// (the copy is most of its kernel time, and on a virtual machine whose memory the host hands back fresh
// pages cost far more than a copy), and the disk gets it at the group's sync anyway. Written direct
// (O_DIRECT), the disk takes the bytes from a buffer of ours, and the write waits on libuv's thread
// pool while the main thread goes on with the next chunk.
//
// Direct I/O wants memory, offset and length in whole blocks. JavaScript cannot ask where a buffer
// lies, so a probe write finds the first aligned offset inside one (an ArrayBuffer's memory never
// moves). Where the platform or the filesystem has no direct I/O (macOS; tmpfs before Linux 6.6),
// there is no writer and parts go through the page cache.

/** Direct writes are aligned to this: a whole block on any disk (logical blocks are 512 or 4096 bytes). */
export const BLOCK = 4096

/**
 * Writes whole blocks of files past the page cache from aligned stages, one stage per write landing: a
 * disk takes several writes at once far faster than one after another.
 */
export class DirectWriter {
  private constructor (private readonly free: Uint8Array[], private readonly stageBytes: number) {}

  /**
   * A writer for files in `dir` with `stages` stages of `stageBytes`, or undefined where direct writes
   * are refused there.
   */
  static probe (dir: string, stageBytes: number, stages: number): DirectWriter | undefined {
    if (constants.O_DIRECT === undefined) return undefined
    const path = childPath(dir, '.direct-probe')
    let fd: number
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT | constants.O_NOFOLLOW, PRIVATE_FILE_MODE)
    } catch {
      return undefined
    }
    try {
      // One aligned buffer cut into stages: whole blocks each, so each starts aligned.
      const bytes = Math.ceil(stageBytes / BLOCK) * BLOCK
      const memory = aligned(fd, bytes * stages)
      if (memory === undefined) return undefined
      return new DirectWriter(Array.from({ length: stages }, (_, i) => memory.subarray(i * bytes, i * bytes + stageBytes)), stageBytes)
    } finally {
      closeSync(fd)
      // A probe file left by a failed removal is harmless (part files are *.part), and removed next time.
      try { rmSync(path, { force: true }) } catch {}
    }
  }

  /** Whether `length` bytes at `offset` can go direct: whole blocks that fit a stage. */
  takes (offset: number, length: number): boolean {
    return offset % BLOCK === 0 && length % BLOCK === 0 && length > 0 && length <= this.stageBytes
  }

  /** Whether a stage is free for a write now. */
  get ready (): boolean {
    return this.free.length > 0
  }

  /** Opens `path`, which exists, for direct writes. */
  open (path: string): number {
    return openSync(path, constants.O_WRONLY | constants.O_DIRECT | constants.O_NOFOLLOW)
  }

  /**
   * Copies `data` into a free stage before it returns (there must be one: `ready`), then writes it at
   * `offset` of `fd` (opened by open()) on the thread pool.
   */
  async write (fd: number, offset: number, data: Uint8Array): Promise<void> {
    const whole = this.free.pop()
    if (whole === undefined) throw new Error('a direct write with no stage free')
    const stage = whole.subarray(0, data.byteLength)
    stage.set(data)
    try {
      await new Promise<void>((resolve, reject) => {
        let done = 0
        const next = (): void => {
          writeFd(fd, stage, done, stage.byteLength - done, offset + done, (err, n) => {
            if (err !== null) return reject(err)
            done += n
            if (done < stage.byteLength) next()
            else resolve()
          })
        }
        next()
      })
    } finally {
      this.free.push(whole)
    }
  }
}

/** `bytes` of memory aligned for direct writes to `fd`: a one-block write from each offset in turn. */
function aligned (fd: number, bytes: number): Uint8Array | undefined {
  const memory = new Uint8Array(bytes + BLOCK)
  // Allocators align to at least 16 bytes.
  for (let at = 0; at < BLOCK; at += 16) {
    try {
      writeSync(fd, memory, at, BLOCK, 0)
      return memory.subarray(at, at + bytes)
    } catch {}
  }
  return undefined
}
