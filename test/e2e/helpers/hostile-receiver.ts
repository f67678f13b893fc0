// A new phone that does not play fair, for the malicious-peer tests: a bare libp2p node that pairs with
// the code by hand and then speaks /ferry/transfer/1.0.0 frame by frame, asking for what it likes and
// keeping every byte the sender gives it, so a test can assert on exactly what left the old phone.
import { PROTOCOL_VERSION } from '../../../src/protocol/options.js'
import { TRANSFER_PROTOCOL } from '../../../src/net/ferry-service.js'
import type { FerryNode } from '../../../src/net/node.js'
import { PAIR_PROTOCOL } from '../../../src/net/pair-stream.js'
import { parseCode, ReceiverHandshake } from '../../../src/pairing/index.js'
import { decodeFrame, encodeFrame, type ferry, type Frame } from '../../../src/wire/codec.js'
import { MAX_FRAME_BYTES } from '../../../src/wire/framing.js'
import { openStream, type FramedStream } from './raw-peer.js'

const concat = (parts: Uint8Array[]): Uint8Array => Buffer.concat(parts)

/** Pairs `node` with the sender at `addr` the way `ferry receive` would; throws unless it paired. */
export async function pairByHand (node: FerryNode, addr: string, senderPeerId: string, code: string): Promise<void> {
  const s = await openStream(node, addr, PAIR_PROTOCOL)
  const hs = new ReceiverHandshake({ code: parseCode(code), localPeerId: node.peerId.toString(), remotePeerId: senderPeerId })
  await s.write(hs.start().send)
  const answer = await s.next()
  if (answer === undefined) throw new Error('the sender hung up during pairing')
  const step = hs.onMessage(answer)
  if (step.error !== undefined) throw step.error
  await s.write(step.send)
  // The sender's verdict on the confirmation: PAIRED, or a refusal.
  const verdict = await s.next()
  if (verdict === undefined) throw new Error('the sender hung up without its verdict')
  const done = hs.onMessage(verdict)
  if (done.error !== undefined) throw done.error
  if (done.result === undefined) throw new Error('pairing did not complete in two round trips')
  await s.duplex.close()
}

export interface Haul {
  /** Every frame the sender sent, decoded, in order. */
  frames: Frame[]
  manifest: ferry.Manifest[]
  messages: ferry.Message.$Properties[]
  /** Media bytes received, by index into the manifest's media list. */
  media: Map<number, Uint8Array>
  done?: ferry.Done
  /** The sender's Error frame, if it refused. */
  error?: ferry.Error
  /** How the stream ended when it did not end with Done: a reset or a timeout. */
  ended?: Error
  /** Data bytes received (batch, fragment and chunk frame bodies). */
  dataBytes: number
  /** Fragments of messages too large for one frame (kept as bytes, not reassembled). */
  fragments: Uint8Array[]
}

export interface Ask {
  request?: ferry.Selection.$Properties
  /** The Resume to answer the manifest with; default: holding nothing. */
  resume?: (manifest: ferry.Manifest[]) => ferry.Resume.$Properties
}

/**
 * Opens a transfer, sends Hello with `ask.request`, answers the manifest with `ask.resume`, acknowledges
 * every data frame, and stops at Done (hanging up without Verified), at an Error frame, or at the end.
 */
export async function haul (node: FerryNode, addr: string, ask: Ask = {}): Promise<Haul> {
  const s = await openStream(node, addr, TRANSFER_PROTOCOL, MAX_FRAME_BYTES)
  const send = async (f: ferry.Frame.$Properties): Promise<void> => { await s.write([concat(encodeFrame(f))]) }
  const out: Haul = { frames: [], manifest: [], messages: [], media: new Map(), dataBytes: 0, fragments: [] }
  await send({ hello: { version: PROTOCOL_VERSION, agent: 'e2e-hostile-receiver', request: ask.request } })
  const pieces = new Map<number, Uint8Array[]>()
  try {
    for (;;) {
      const body = await next(s)
      if (body === undefined) break
      const f = decodeFrame(body)
      out.frames.push(f)
      if (f.body === 'manifest') {
        out.manifest.push(f.manifest as ferry.Manifest)
        if ((f.manifest as ferry.Manifest).more !== true) await send({ resume: ask.resume?.(out.manifest) ?? {} })
      } else if (f.body === 'batch' || f.body === 'chunk' || f.body === 'fragment') {
        out.dataBytes += body.byteLength
        if (f.body === 'batch') out.messages.push(...(f.batch as ferry.MessageBatch).messages)
        if (f.body === 'fragment') out.fragments.push((f.fragment as ferry.MessageFragment).data)
        if (f.body === 'chunk') {
          const c = f.chunk as ferry.MediaChunk
          const list = pieces.get(c.index) ?? []
          list.push(c.data)
          pieces.set(c.index, list)
        }
        await send({ ack: { bytes: out.dataBytes, messages: out.messages.length } })
      } else if (f.body === 'done') {
        out.done = f.done as ferry.Done
        break
      } else if (f.body === 'error') {
        out.error = f.error as ferry.Error
        break
      }
    }
  } catch (err) {
    out.ended = err as Error
  }
  s.duplex.abort(new Error('hostile receiver hangs up'))
  for (const [i, list] of pieces) out.media.set(i, concat(list))
  return out
}

async function next (s: FramedStream): Promise<Uint8Array | undefined> {
  return await s.next(20_000)
}
