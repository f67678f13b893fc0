import type { Socket } from 'node:net'

// Node reads a socket 64 KiB at a time, into a buffer it allocates for that read, and emits each one as
// a 'data' event. The receiving phone's thread is the transfer's bound, and a gigabyte cost it 16,000
// reads, allocations and trips through libp2p's stream code. Node's documented `onread` option reads
// into buffers the caller gives instead: here, fresh buffers of READ_BYTES each, so one system call
// takes what the socket holds (often several Noise messages) and nothing is copied. A read that fills
// little of its buffer is copied out and the buffer reused, so a small message does not hold a big one.
//
// @libp2p/tcp passes its `dialOpts` to `net.connect` as they are and listens for 'data': the callback,
// which Node calls as a method of the socket, emits it. The canary test
// (test/net/tcp-reads.test.ts) fails when Node or @libp2p/tcp stops behaving so.

export const READ_BYTES = 256 * 1024

/** A read filling less than this is copied out and its buffer kept for the next read. */
const KEEP_UNDER = 32 * 1024

export interface BulkReads {
  buffer: () => Uint8Array
  callback: (this: Socket, nread: number, buf: Uint8Array) => void
}

/**
 * `net.connect`'s `onread` option for sockets read in bulk. Node asks `buffer()` for the next read's
 * buffer straight after each callback on the same socket, so one spare is never handed to two sockets.
 */
export function bulkReads (bytes = READ_BYTES): BulkReads {
  let spare: Buffer | undefined
  return {
    buffer: () => {
      const b = spare ?? Buffer.allocUnsafeSlow(bytes)
      spare = undefined
      return b
    },
    callback (nread, buf) {
      const b = buf as Buffer
      let data: Buffer
      if (nread >= KEEP_UNDER) {
        data = b.subarray(0, nread)
      } else {
        data = Buffer.allocUnsafe(nread)
        b.copy(data, 0, 0, nread)
        spare = b
      }
      this.emit('data', data)
    }
  }
}
