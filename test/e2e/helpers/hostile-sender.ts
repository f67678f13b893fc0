// An old phone that lies, for the malicious-peer tests: a bare libp2p node in the test process that
// pairs honestly with the code (so a real `ferry receive` gets as far as the transfer) and then serves
// /ferry/transfer/1.0.0 however the test says: a SenderMachine whose frames are rewritten, or a
// hand-driven stream of frames. Loopback only, mDNS off.
import type { Stream } from '@libp2p/interface'
import { TRANSFER_PROTOCOL } from '../../../src/net/ferry-service.js'
import type { FerryNode } from '../../../src/net/node.js'
import { PAIR_PROTOCOL, pairAsSender } from '../../../src/net/pair-stream.js'
import { streamToDuplex, type StreamDuplex } from '../../../src/net/stream-duplex.js'
import { CodeLifetime, parseCode } from '../../../src/pairing/index.js'
import type { TransferOptions } from '../../../src/protocol/options.js'
import { SenderMachine } from '../../../src/protocol/sender.js'
import { runSender } from '../../../src/protocol/session.js'
import type { HistorySource } from '../../../src/store/history.js'
import type { ferry } from '../../../src/wire/codec.js'
import { tamperSender } from '../../helpers/transfer.js'
import { rawNode } from './raw-peer.js'

/** Serves one transfer stream; its outcome (or error) is recorded in `sessions`. */
export type Serve = (duplex: StreamDuplex, peer: string) => Promise<unknown>

export interface HostileSender {
  node: FerryNode
  /** Loopback multiaddr with /p2p/, for `ferry receive --peer`. */
  addr: string
  peerId: string
  /** Peers that paired with the code (or resumed with their token). */
  paired: string[]
  /** Settled outcomes of every transfer stream served, in order. */
  sessions: Array<Promise<PromiseSettledResult<unknown>>>
  stop(): Promise<void>
}

export async function startHostileSender (code: string, serve: Serve): Promise<HostileSender> {
  const node = await rawNode()
  const lifetime = new CodeLifetime()
  const tokens = new Map<string, Uint8Array>()
  const paired: string[] = []
  const sessions: HostileSender['sessions'] = []
  const self = node.peerId.toString()
  await node.handle(PAIR_PROTOCOL, (stream: Stream, connection) => {
    const peer = connection.remotePeer.toString()
    void pairAsSender(streamToDuplex(stream), { localPeerId: self, remotePeerId: peer }, { code: parseCode(code), lifetime, tokens })
      .then(outcome => {
        if (outcome.resumeToken !== undefined) tokens.set(peer, outcome.resumeToken)
        paired.push(peer)
      }, () => {})
  })
  await node.handle(TRANSFER_PROTOCOL, (stream: Stream, connection) => {
    const peer = connection.remotePeer.toString()
    const duplex = streamToDuplex(stream)
    // Only a paired peer is served: the lie is aimed at the honest phone that paired.
    if (!paired.includes(peer)) { duplex.abort(new Error('not paired')); return }
    sessions.push(Promise.allSettled([serve(duplex, peer)]).then(([r]) => r))
  })
  const addr = node.getMultiaddrs().map(String).find(a => a.startsWith('/ip4/127.0.0.1/'))
  if (addr === undefined) throw new Error('hostile sender has no loopback address')
  return { node, addr, peerId: self, paired, sessions, stop: async () => { await node.stop() } }
}

/** A real SenderMachine over `source` whose outgoing frames go through `tamper` first. */
export function lyingSender (source: HistorySource, tamper: (f: ferry.Frame, n: number) => ferry.Frame.$Properties[], options?: Partial<TransferOptions>): Serve {
  return async duplex => {
    const machine = new SenderMachine({ source, options })
    tamperSender(machine, tamper)
    await runSender(machine, duplex)
    return machine.progress
  }
}
