import { logger } from '@libp2p/logger'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'
import type { MultiaddrConnection, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'

// JS yamux grants a stream's window back after every data frame it reads: one small encrypted packet,
// and a socket write, per frame on the reading phone's busy thread (thousands per gigabyte). Go and Rust
// yamux grant once half the window is used: the sender always holds at least half a window of credit,
// so it never stalls for it. This wrapper makes Ferry's yamux streams do the same; the wire format is
// unchanged, so either side works with any yamux.
//
// It reaches into @libp2p/yamux's stream (its window fields are private in the types): when they are
// not there, streams keep yamux's own behaviour (slower, never wrong).

const log = logger('ferry:yamux-window')

interface WindowFields {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

interface StreamHooks {
  onCreateStream: (...args: unknown[]) => unknown
  onRemoteStream: (stream: unknown) => void
}

let warned = false

/** Makes `stream` grant its receive window once at least half of it is used, not after every frame. */
function grantHalfWindows (stream: unknown): boolean {
  if (!(stream instanceof YamuxStream)) return false
  const s = stream as unknown as WindowFields
  if (typeof s.recvWindow !== 'number' || typeof s.recvWindowCapacity !== 'number' || typeof s.sendWindowUpdate !== 'function') {
    if (!warned) log('this @libp2p/yamux has no window fields: keeping its per-frame window updates')
    warned = true
    return false
  }
  const grant = s.sendWindowUpdate.bind(stream)
  s.sendWindowUpdate = () => {
    // Opening flags (SYN, ACK) and a resume after a pause always go through; they decide themselves.
    if (s.state === StreamState.Established && s.recvWindow - s.recvWindowCapacity < s.recvWindow / 2) return
    grant()
  }
  return true
}

/** Wraps a yamux muxer factory (`yamux({...})`) so every stream of its muxers grants half windows. */
export function halfWindowUpdates<C, M extends StreamMuxer> (make: (components: C) => StreamMuxerFactory<M>): (components: C) => StreamMuxerFactory<M> {
  return components => {
    const factory = make(components)
    const create = factory.createStreamMuxer.bind(factory)
    factory.createStreamMuxer = (maConn: MultiaddrConnection) => {
      const muxer = create(maConn)
      const m = muxer as unknown as Partial<StreamHooks>
      const onCreate = m.onCreateStream?.bind(muxer)
      const onRemote = m.onRemoteStream?.bind(muxer)
      if (onCreate === undefined || onRemote === undefined) return muxer
      // Outbound streams come from onCreateStream, inbound ones go through onRemoteStream before any of
      // their data is read.
      m.onCreateStream = (...args: unknown[]) => {
        const stream = onCreate(...args)
        grantHalfWindows(stream)
        return stream
      }
      m.onRemoteStream = (stream: unknown) => {
        grantHalfWindows(stream)
        onRemote(stream)
      }
      return muxer
    }
    return factory
  }
}
