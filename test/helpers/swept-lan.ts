// A neighbourhood on loopback that the real sweep searches: a random 127.x.y.0/24 (nothing leaves the
// machine), one host on it where each phone's discovery responder answers for a code's nameplate, on a
// discovery port of its own. The sweep asks the first port on every host before another port on any,
// so the phone shown on ports[0] is always the one found first.
import { randomInt } from 'node:crypto'
import { SenderSearch } from '../../src/net/find-sender.js'
import { startResponder } from '../../src/net/probe.js'
import type { LocalSubnet } from '../../src/net/subnets.js'
import type { SweepOptions } from '../../src/net/sweep.js'

/** What a discovery responder says it is: a phone's peer id and the addresses to dial it at. */
export interface Shown { peer: string, addrs: string[] }

export interface SweptLan {
  /** The host every phone here answers the sweep from. */
  host: string
  /** This machine's subnet, as the sweep is told it. */
  self: LocalSubnet
  /** The sweep's discovery ports, in the order it asks them. */
  ports: number[]
  /** `n` discovery ports from ports[0] on, for a sweep that asks more than `ports`. */
  morePorts: (n: number) => number[]
  /** Answers the sweep for the nameplate at `port` only: as `shown`, or what it returns each time asked. */
  showNameplate: (port: number, shown: Shown | (() => Shown)) => Promise<void>
  /** A search for the nameplate by sweep alone (no mDNS), over `ports` unless `sweep` says otherwise. */
  search: (timeoutMs: number, sweep?: Pick<SweepOptions, 'ports' | 'maxInFlight'>) => SenderSearch
}

/** The responders it starts are pushed onto `stopped` (stoppedAfterEach's `nodes`) and go with them. */
export function sweptLan (nameplate: string, stopped: Array<{ stop: () => unknown }>): SweptLan {
  const net = `127.${randomInt(1, 255)}.${randomInt(0, 256)}`
  const host = `${net}.60`
  const self: LocalSubnet = { ifname: 'lo-test', address: `${net}.100`, prefix: 24, sweepPrefix: 24, virtual: false }
  const base = randomInt(30_000, 60_000)
  const morePorts = (n: number): number[] => Array.from({ length: n }, (_, i) => base + i)
  const ports = morePorts(3)
  return {
    host,
    self,
    ports,
    morePorts,
    showNameplate: async (port, shown) => {
      const answer = typeof shown === 'function' ? shown : () => shown
      const r = await startResponder({ nameplate, host, ports: [port], answer })
      if (r === undefined) throw new Error(`port ${port} is taken`)
      stopped.push({ stop: async () => { await r.close() } })
    },
    search: (timeoutMs, sweep = {}) => new SenderSearch({
      nameplate, mdns: false, sweep: true, timeoutMs, sweepOptions: { subnets: [self], ports, ratePerSecond: 2000, ...sweep }
    })
  }
}
