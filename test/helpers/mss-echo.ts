// Telling multistream-select's echo of a protocol from the other bytes a stream sends, so a test can
// make a real libp2p node that never agrees a protocol it otherwise takes.
import type { Libp2p, Stream } from '@libp2p/interface'

/** Whether `bytes` are multistream-select's echo of `protocol` (length-prefixed, newline-ended). */
export const echoes = (bytes: Uint8Array, protocol: string): boolean =>
  bytes.byteLength <= protocol.length + 2 && new TextDecoder().decode(bytes).endsWith(`${protocol}\n`)

/**
 * On `node`'s connections from now on, its first `streams` streams of `protocol` never agree it: the
 * echo, and everything the stream sends after it, is lost, as on a link that lost them. The other
 * streams are untouched. Returns how many streams lost their echo so far.
 */
export function neverAgree (node: Libp2p, protocol: string, streams = Infinity): () => number {
  let lost = 0
  node.addEventListener('connection:open', evt => {
    const muxer = (evt.detail as unknown as { muxer: EventTarget }).muxer
    muxer.addEventListener('stream', (e: Event) => {
      const stream = (e as CustomEvent<Stream>).detail
      const send = stream.send.bind(stream)
      let swallowing = false
      stream.send = data => {
        if (!swallowing && lost < streams && echoes(data.subarray(), protocol)) {
          swallowing = true
          lost++
        }
        return swallowing ? true : send(data)
      }
    })
  })
  return () => lost
}
