// The two baselines Ferry is compared with, each a writer and a reader process on 127.0.0.1 moving
// exactly the bytes Ferry moved: a bare libp2p stream on Ferry's stack, and a plain TCP socket.
import { fileURLToPath } from 'node:url'
import { removeTempDir, spawnNode, tempDir, type Child } from './proc.js'

export interface BaselineResult {
  bytes: number
  /** Reader's view: from opening the stream (after the dial) to the last byte. */
  transferMs: number
  dialMs: number
  mbPerSec: number
  /** The user's clock: the writer's start to both processes exited (node and tsx start-up included). */
  userMs: number
  rssMiB: { writer: number, reader: number }
  /** CPU seconds of each whole process (with node + tsx start-up). */
  cpuSec: { writer: number, reader: number }
}

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url))

/**
 * Where the two sides run: by default both on this machine's loopback; with a testbed, the writer in
 * one namespace and the reader in another, each wrapped in `ip netns exec`.
 */
export interface Placement {
  writer: { wrap: string[], host: string }
  reader: { wrap: string[] }
}

const LOOPBACK: Placement = { writer: { wrap: [], host: '127.0.0.1' }, reader: { wrap: [] } }

interface PairOptions { root: string, timeoutMs: number, label: string, at?: Placement }

async function pair (script: string, serveArgs: string[], fetchArgs: (listening: Record<string, unknown>) => string[], o: PairOptions): Promise<BaselineResult> {
  const at = o.at ?? LOOPBACK
  const node = (extra: string[]): string[] => ['--import', 'tsx', here(script), '--timeout-ms', String(o.timeoutMs), ...extra]
  const writer = spawnNode(node(['--role', 'serve', '--host', at.writer.host, ...serveArgs]), { label: `${o.label} writer`, timeoutMs: o.timeoutMs + 5000, cwd: o.root, wrap: at.writer.wrap })
  let reader: Child | undefined
  try {
    const listening = await writer.waitFor(e => e.event === 'listening')
    reader = spawnNode(node(['--role', 'fetch', ...fetchArgs(listening)]), { label: `${o.label} reader`, timeoutMs: o.timeoutMs + 5000, cwd: o.root, wrap: at.reader.wrap })
    const done = await reader.waitFor(e => e.event === 'done')
    await Promise.all([writer.done, reader.done])
    return {
      bytes: done.bytes as number,
      transferMs: done.transferMs as number,
      dialMs: done.dialMs as number,
      mbPerSec: done.mbPerSec as number,
      userMs: Math.max(writer.exitedAt(), reader.exitedAt()) - writer.startedAt,
      rssMiB: { writer: writer.rss(), reader: reader.rss() },
      cpuSec: { writer: writer.cpu(), reader: reader.cpu() }
    }
  } finally {
    writer.kill()
    reader?.kill()
    await writer.done.catch(() => {})
    await reader?.done.catch(() => {})
  }
}

/**
 * Ferry's stack without Ferry: createFerryNode on both sides, one stream, 256 KiB writes through
 * streamToDuplex. With `media`, "libp2p + files": the writer sends the media files of the store
 * `media.from` and the reader stores them into the folder `media.to` (bench/media-copy.ts); `bytes`
 * must then be their streamBytes().
 */
export async function bareLibp2p (bytes: number, o: { root: string, timeoutMs: number, at?: Placement, media?: { from: string, to: string }, transport?: 'tcp' | 'webrtc' }): Promise<BaselineResult> {
  const wdir = tempDir('libp2p-writer')
  const rdir = tempDir('libp2p-reader')
  const media = (flag: string, dir: string | undefined): string[] => dir === undefined ? [] : [flag, dir]
  const transport = o.transport ?? 'tcp'
  try {
    return await pair('libp2p-peer.ts', ['--dir', wdir, '--bytes', String(bytes), '--transport', transport, ...media('--store', o.media?.from)], l => {
      const host = (o.at ?? LOOPBACK).writer.host
      const addrs = (l.addrs as string[]).filter(a => a.startsWith(`/ip4/${host}/`))
      if (addrs.length === 0) throw new Error(`the libp2p writer listens on no ${host} address: ${String(l.addrs)}`)
      return ['--dir', rdir, '--bytes', String(bytes), '--transport', transport, '--addr', addrs[0], ...media('--media', o.media?.to)]
    }, { ...o, label: `${o.media === undefined ? 'bare libp2p' : 'libp2p + files'}${transport === 'webrtc' ? ' (webrtc)' : ''}` })
  } finally {
    removeTempDir(wdir)
    removeTempDir(rdir)
  }
}

/** node:net, 256 KiB writes with write()'s backpressure: what the loopback and the kernel allow. */
export async function rawSocket (bytes: number, o: { root: string, timeoutMs: number, at?: Placement }): Promise<BaselineResult> {
  const host = (o.at ?? LOOPBACK).writer.host
  return await pair('socket-peer.ts', ['--bytes', String(bytes)], l => ['--bytes', String(bytes), '--port', String(l.port), '--host', host], { ...o, label: 'raw socket' })
}
