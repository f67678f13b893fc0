// A pairing stream lost on a bad link before CPace could test anything: it goes once the new phone's
// PAKE_A is in, before any answer.
import type { Stream } from '@libp2p/interface'
import type { Ferry } from '../../src/create-ferry.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { streamToDuplex } from '../../src/net/stream-duplex.js'
import { MAX_MESSAGE_BYTES } from '../../src/pairing/index.js'
import { readFrames } from '../../src/wire/framing.js'

/** Aborts `stream` once its first frame (the new phone's PAKE_A) is in. */
export function dropOncePakeAIsIn (stream: Stream): void {
  const duplex = streamToDuplex(stream)
  void (async () => {
    await readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]().next()
    duplex.abort(new Error('the link drops'))
  })().catch(() => {})
}

/**
 * The old phone's first `cuts` pairing streams are dropped once PAKE_A is in; the streams after those
 * go to its own handler, as they would without the cuts. Returns how many pairing streams came so far.
 */
export async function cutFirstPairings (phone: Ferry, cuts: number): Promise<() => number> {
  const service = phone.node.services.ferry
  let pairStreams = 0
  await phone.node.unhandle(PAIR_PROTOCOL)
  await phone.node.handle(PAIR_PROTOCOL, (stream: Stream, connection) => {
    if (++pairStreams > cuts) {
      void service['onPairStream'](stream, connection)
      return
    }
    dropOncePakeAIsIn(stream)
  }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
  return () => pairStreams
}
