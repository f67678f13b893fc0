// Exactly how many bytes Ferry's sender writes on the transfer stream for a fresh receiver, found by
// driving the SenderMachine alone against a scripted receiver (Hello, an empty Resume, an Ack whenever
// the window closes). Needs no receiving store, so it works even when the engine run cannot.
import type { HistorySource } from '../../src/store/history.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { PROTOCOL_VERSION } from '../../src/protocol/options.js'
import { asFrame, frameLength, type EncodedFrame } from '../../src/wire/codec.js'
import { prefix } from '../../src/wire/framing.js'

export interface WireBytes {
  /** Length prefixes + every frame body the sender writes: hello, manifest, batches, fragments, chunks, done. */
  total: number
  /** Bodies of the data frames only (what the receiver acknowledges). */
  dataFrames: number
  media: number
  messages: number
  frames: number
}

export async function countWireBytes (source: HistorySource): Promise<WireBytes> {
  const sender = new SenderMachine({ source })
  let total = 0
  let frames = 0
  const count = (f: EncodedFrame): void => { total += prefix(f).byteLength + frameLength(f); frames++ }
  for (const f of sender.start()) count(f)
  await sender.onFrame(asFrame({ hello: { version: PROTOCOL_VERSION, agent: 'bench' } }))
  let resumed = false
  for (;;) {
    const f = await sender.next()
    if (f !== undefined) { count(f); continue }
    if (sender.state === 'resume' && !resumed) {
      await sender.onFrame(asFrame({ resume: { mediaHave: new Uint8Array(0), partial: [], held: new Uint8Array(0) } }))
      resumed = true
      continue
    }
    if (sender.state === 'done-sent') break
    if (sender.progress.bytesAcked < sender.progress.bytesSent) {
      await sender.onFrame(asFrame({ ack: { bytes: sender.progress.bytesSent } }))
      continue
    }
    throw new Error(`the sender stalled in state ${sender.state} while counting its bytes`)
  }
  const p = sender.progress
  return { total, dataFrames: p.bytesSent, media: p.mediaBytesSent, messages: p.messagesSent, frames }
}
