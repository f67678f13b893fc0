import { describe, expect, it } from 'vitest'
import type { Journal } from '../../src/journal/journal.js'
import { parseCode, type PairingCode } from '../../src/pairing/index.js'
import { SPENT_CODES_KEPT, SpentCodes } from '../../src/web/spent-codes.js'
import { tempDir } from '../helpers/stores.js'
import { journalsClosedAfterEach } from '../helpers/stopped.js'

// The browser phone's records of the codes it paired with, over a real journal (the Node one: the page's
// IndexedDB journal has the same port, and SpentCodes uses nothing else). Each code that paired leaves
// one; only the SPENT_CODES_KEPT written last are kept, by the order of their writes.

const open = journalsClosedAfterEach()
const PEER = '12D3KooWL2FeJmpvksfnEWUPGzQqo87PTDUih38EEEk9o2xFZSsX'
const ADDRS = [`/ip4/127.0.0.1/udp/36187/webrtc-direct/certhash/uEiDICc5G9A7nQEFh5t-y_C8WXfrcHfdDOH_Qwz1aF_SXjw/p2p/${PEER}`]
const N = SPENT_CODES_KEPT
const codeNo = (i: number): PairingCode => parseCode(`501-${String(i).padStart(4, '0')}-7731`)
const range = (from: number, to: number): PairingCode[] => Array.from({ length: to - from }, (_, i) => codeNo(from + i))

async function keys (j: Journal): Promise<string[]> {
  const out: string[] = []
  for await (const [key] of j.list('web/spent-code/')) out.push(key)
  return out.sort()
}
const keysOf = (codes: PairingCode[]): string[] => codes.map(c => SpentCodes.key(PEER, c)).sort()

describe('the browser phone\'s spent codes', () => {
  it('keeps the latest written: the oldest goes as codes pair, and a code paired again counts as written last', async () => {
    const j = open(tempDir())
    const spent = new SpentCodes(j)
    for (const c of range(0, N)) await spent.spend(PEER, c)
    expect(await keys(j)).toEqual(keysOf(range(0, N)))
    expect(await spent.spent(ADDRS, codeNo(0))).toBe(true)
    await spent.spend(PEER, codeNo(N))
    expect(await keys(j)).toEqual(keysOf(range(1, N + 1)))
    expect(await spent.spent(ADDRS, codeNo(0))).toBe(false)
    // Written again, codeNo(1) is the latest: codeNo(2) goes next instead.
    await spent.spend(PEER, codeNo(1))
    await spent.spend(PEER, codeNo(N + 1))
    expect(await keys(j)).toEqual(keysOf([codeNo(1), ...range(3, N + 2)]))
    expect(await spent.spent(ADDRS, codeNo(1))).toBe(true)
  })

  it('records written before the order was kept go first; a damaged one stays, still spent, and takes no place', async () => {
    const j = open(tempDir())
    const legacy = range(100, 110)
    const damaged = range(200, 203)
    await j.write([
      ...legacy.map(c => ({ key: SpentCodes.key(PEER, c), value: new Uint8Array([1]) })),
      ...damaged.map((c, i) => ({ key: SpentCodes.key(PEER, c), value: new TextEncoder().encode(['{"seq":', '{"seq":-1}', '{"seq":"x"}'][i]) }))
    ])
    const spent = new SpentCodes(j)
    for (const c of range(0, N - legacy.length)) await spent.spend(PEER, c)
    expect(await keys(j)).toEqual(keysOf([...legacy, ...damaged, ...range(0, N - legacy.length)]))
    await spent.spend(PEER, codeNo(N))
    // One of the records from before goes, not the damaged ones and not any written since.
    const left = await keys(j)
    expect(left).toHaveLength(N + damaged.length)
    expect(keysOf(legacy).filter(k => !left.includes(k))).toHaveLength(1)
    for (const c of damaged) expect(await spent.spent(ADDRS, c)).toBe(true)
  })
})
