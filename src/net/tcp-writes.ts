import { Socket } from 'node:net'
import type { ConnectionEncrypter } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { hookSecuring } from './securing-hooks.js'

// @libp2p/tcp 11 hands a connection's queued bytes to its socket with
//
//   for (const buf of data) {
//     sentBytes += buf.byteLength;
//     canSendMore = this.socket.write(buf);
//
// and a socket that can take bytes at once passes each buffer to the kernel in a system call of its
// own. Above it, Noise seals each message as a list: its 2-byte length, one piece per buffer yamux
// gave it (a 12-byte header, the data) and a 16-byte tag. So a phone sending media made five writes
// per 64 KiB, four of them a few bytes long, each sent at once as its own TCP segment (libp2p sets
// TCP_NODELAY): the sender paid the kernel's TCP per piece, and the receiver took in the small
// segments one by one.
//
// Below, the buffers of one send are written with the socket corked, so Node hands them to the kernel
// together, in one writev. Corking changes when write() reports a full socket (buffered bytes count
// until the uncork), so whether more may be sent is asked of the socket after the uncork. The method
// is replaced on a TCP connection only, when it has the shape this was written against; the canary
// test (test/net/tcp-writes.test.ts) fails when an upgrade of @libp2p/tcp changes the code above.

interface SendResult { sentBytes: number, canSendMore: boolean }

/** The parts of @libp2p/tcp's TCPSocketMultiaddrConnection that sendData() uses. */
interface SocketConnection {
  socket: Socket
  sendData: (data: Uint8ArrayList) => SendResult
}

/** TCPSocketMultiaddrConnection.sendData, with the buffers of one send written together. */
export function sendCorked (this: SocketConnection, data: Uint8ArrayList): SendResult {
  const socket = this.socket
  let sentBytes = 0
  socket.cork()
  try {
    for (const buf of data) {
      socket.write(buf)
      sentBytes += buf.byteLength
    }
  } finally {
    socket.uncork()
  }
  // As write() would say: a socket that is gone takes nothing more (its close then ends the connection).
  return { sentBytes, canSendMore: !socket.destroyed && socket.writableLength < socket.writableHighWaterMark }
}

/** Makes a TCP connection of libp2p's write each send in one system call; leaves others as they are. */
export function writeTogether (connection: unknown): void {
  const c = connection as Partial<SocketConnection> | undefined
  if (c?.socket instanceof Socket && typeof c.sendData === 'function') c.sendData = sendCorked
}

/**
 * Wraps a connection encrypter's factory (`nodeNoise()`) so every raw connection it secures, inbound
 * or outbound, first writes each send together.
 */
export function writingTogether<C, E extends ConnectionEncrypter<unknown>> (make: (components: C) => E): (components: C) => E {
  return hookSecuring(make, { raw: writeTogether })
}
