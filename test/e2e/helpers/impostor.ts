// Someone posing as the old phone: a bare libp2p node that answers /ferry/pair with the real CPace, but
// with a code of its own (a guess), as a neighbour would who answered the new phone's dial for the same
// nameplate. It never runs out of guesses (a fresh lifetime for each stream): the only bound on them is
// the new phone's. Loopback only, mDNS off.
import type { Stream } from '@libp2p/interface'
import type { FerryNode } from '../../../src/net/node.js'
import { PAIR_PROTOCOL, pairAsSender } from '../../../src/net/pair-stream.js'
import { streamToDuplex } from '../../../src/net/stream-duplex.js'
import { CodeLifetime, MAX_MESSAGE_BYTES, parseCode, SenderHandshake } from '../../../src/pairing/index.js'
import { encodeAbort, type AbortReason } from '../../../src/pairing/messages.js'
import { prefix, readFrames } from '../../../src/wire/framing.js'
import { dropOncePakeAIsIn } from '../../helpers/cut-pairings.js'
import { rawNode } from './raw-peer.js'

export interface Impostor {
  node: FerryNode
  /** Its loopback multiaddr with /p2p/ (its first, where it listens on no loopback). */
  addr: string
  /** Pairing streams the new phone opened to it, each the start of a CPace run. */
  streams: number
  stop(): Promise<void>
}

export interface ImpostorOptions {
  /**
   * The first `dropFirst` pairing streams it cuts once the new phone's PAKE_A is in, before any answer:
   * a link that failed before CPace could test anything.
   */
  dropFirst?: number
  /**
   * The streams after those answer PAKE_A with these, one each, in order, while any are left (bytes no
   * honest phone sends: a malformed PAKE_B), then hang up once the new phone's reply (its refusal) is in.
   */
  answers?: Uint8Array[]
  /**
   * Every other stream it answers with a valid PAKE_B for its guess and then resets, never reading the
   * new phone's answer: this is awaited between the two (the test decides when the cut lands).
   */
  cutAfterPakeB?: () => Promise<void>
  /**
   * Every stream after the dropped ones it refuses at once with this reason, before any PAKE_B, and
   * hangs up: a refusal that checked nothing of the code (the new phone learns nothing, nor does it).
   */
  refuseAtOnce?: AbortReason
  /**
   * Every stream after the dropped ones it cuts this way once the new phone's PAKE_A is in, before any
   * answer: `close` hangs up, `reset` resets the stream, `connection` aborts the whole connection,
   * `stall` never answers (the new phone's pairing times out). A neighbour that blocks the pairing
   * without testing any guess.
   */
  cutEvery?: 'close' | 'reset' | 'connection' | 'stall'
  /** Where it listens (default loopback only). */
  listen?: string[]
  /** Told of each pairing stream, once `streams` counts it. */
  onStream?: () => void
}

/** `guess` is the code it pretends to show; what it does with each pairing stream is in `opts`. */
export async function startImpostor (guess: string, opts: ImpostorOptions = {}): Promise<Impostor> {
  const node = await rawNode(opts.listen)
  const self = node.peerId.toString()
  const addrs = node.getMultiaddrs().map(String)
  const addr = addrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? addrs[0]
  if (addr === undefined) throw new Error('the impostor listens nowhere')
  const me: Impostor = { node, addr, streams: 0, stop: async () => { await node.stop() } }
  await node.handle(PAIR_PROTOCOL, (stream: Stream, connection) => {
    me.streams++
    opts.onStream?.()
    if (me.streams <= (opts.dropFirst ?? 0)) {
      dropOncePakeAIsIn(stream)
      return
    }
    const duplex = streamToDuplex(stream)
    const cut = opts.cutEvery
    if (cut !== undefined) {
      void (async () => {
        await readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]().next()
        if (cut === 'close') await duplex.close()
        else if (cut === 'reset') duplex.abort(new Error('the impostor resets the stream'))
        else if (cut === 'connection') connection.abort(new Error('the impostor drops the connection'))
      })().catch(() => {})
      return
    }
    const refusal = opts.refuseAtOnce
    if (refusal !== undefined) {
      void (async () => {
        await readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]().next()
        const abort = encodeAbort(refusal)
        await duplex.write([prefix([abort]), abort])
        await duplex.close()
      })().catch(() => {})
      return
    }
    const answer = opts.answers?.[me.streams - (opts.dropFirst ?? 0) - 1]
    if (answer !== undefined) {
      void (async () => {
        const it = readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]()
        await it.next()
        await duplex.write([prefix([answer]), answer])
        await it.next()
        await duplex.close()
      })().catch(() => {})
      return
    }
    const cutAfterPakeB = opts.cutAfterPakeB
    if (cutAfterPakeB !== undefined) {
      void (async () => {
        const hs = new SenderHandshake({ code: parseCode(guess), lifetime: new CodeLifetime(), localPeerId: self, remotePeerId: connection.remotePeer.toString() })
        const pakeA = await readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]().next()
        if (pakeA.done === true) return
        const [pakeB] = hs.onMessage(pakeA.value).send
        await duplex.write([prefix([pakeB]), pakeB])
        await cutAfterPakeB()
        duplex.abort(new Error('the impostor resets the stream'))
      })().catch(() => {})
      return
    }
    void pairAsSender(duplex, { localPeerId: self, remotePeerId: connection.remotePeer.toString() },
      { code: parseCode(guess), lifetime: new CodeLifetime(), tokens: new Map() })
      .catch(() => {})
  })
  return me
}
