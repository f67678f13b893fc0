// Real `ferry` processes for the end-to-end tests: start one, follow its JSON events line by line,
// wait for an event (or its exit) with a timeout that is only a failure bound, SIGKILL it.
import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(ROOT, 'bin', 'ferry.js')

/** Loopback only, never multicast: every send/receive the tests start carries these. */
export const LOOPBACK = '/ip4/127.0.0.1/tcp/0'
export const NO_MDNS = '--no-mdns'

export interface FerryJsonEvent {
  event: string
  /** ms since the process was spawned, when the line was read */
  at: number
  [k: string]: unknown
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

const live = new Set<FerryProcess>()

/** One `ferry` process. stdout is parsed as one JSON event per line; stderr is kept (last 16 KiB). */
export class FerryProcess {
  readonly events: FerryJsonEvent[] = []
  /** stdout lines that were not JSON (there should be none with --json). */
  readonly otherLines: string[] = []
  stderr = ''
  readonly exited: Promise<Exit>
  exit?: Exit
  private readonly waiters = new Set<() => void>()
  private readonly t0 = performance.now()

  constructor (readonly name: string, readonly args: string[], readonly child: ChildProcess) {
    live.add(this)
    createInterface({ input: child.stdout! }).on('line', line => {
      try {
        const e = JSON.parse(line) as Record<string, unknown>
        if (typeof e.event !== 'string') throw new Error('no event field')
        this.events.push({ ...e, event: e.event, at: Math.round(performance.now() - this.t0) })
      } catch {
        this.otherLines.push(line)
      }
      this.wake()
    })
    child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-16_384) })
    this.exited = new Promise<Exit>(resolve => {
      // 'close' (not 'exit'): stdout and stderr are fully read by then.
      child.on('close', (code, signal) => {
        this.exit = { code, signal }
        live.delete(this)
        this.wake()
        resolve(this.exit)
      })
    })
  }

  private wake (): void {
    for (const w of [...this.waiters]) w()
  }

  /** Events of one kind, in order. */
  all (event: string): FerryJsonEvent[] {
    return this.events.filter(e => e.event === event)
  }

  describe (): string {
    return `${this.name} (ferry ${this.args.join(' ')})\n  events: ${this.events.slice(-20).map(e => JSON.stringify(e)).join('\n          ')}` +
      `${this.otherLines.length > 0 ? `\n  other stdout: ${this.otherLines.slice(-5).join(' | ')}` : ''}\n  stderr: ${this.stderr.trim()}`
  }

  /**
   * Resolves with the first event, past or future, that matches; rejects when the process exits
   * first or after `timeoutMs` (a failure bound, not a synchronisation).
   */
  async waitFor (what: string, pred: (e: FerryJsonEvent) => boolean, timeoutMs = 20_000, fromIndex = 0): Promise<FerryJsonEvent> {
    return await new Promise<FerryJsonEvent>((resolve, reject) => {
      const check = (): void => {
        const hit = this.events.find((e, i) => i >= fromIndex && pred(e))
        if (hit !== undefined) { done(); resolve(hit); return }
        if (this.exit !== undefined) {
          done()
          reject(new Error(`${this.name} exited (${this.exit.code ?? this.exit.signal}) before ${what}\n${this.describe()}`))
        }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.describe()}`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
      check()
    })
  }

  async waitEvent (event: string, timeoutMs?: number, fromIndex = 0): Promise<FerryJsonEvent> {
    return await this.waitFor(`a '${event}' event`, e => e.event === event, timeoutMs, fromIndex)
  }

  /** The n-th (1-based) event of a kind, past or future. */
  async waitNth (event: string, n: number, timeoutMs?: number): Promise<FerryJsonEvent> {
    await this.waitFor(`${n} '${event}' events`, () => this.all(event).length >= n, timeoutMs)
    return this.all(event)[n - 1]
  }

  /** Waits for the process to end by itself. */
  async waitExit (timeoutMs = 30_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} still running after ${timeoutMs} ms\n${this.describe()}`)), timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** SIGKILL (no cleanup in the child, like a crash or a dead battery) and wait until it is gone. */
  async kill9 (): Promise<Exit> {
    if (this.exit === undefined) this.child.kill('SIGKILL')
    return await this.exited
  }
}

export interface SpawnOptions {
  name?: string
  env?: NodeJS.ProcessEnv
  /** Written to the process's stdin, which is then closed (default: no stdin). */
  input?: string
}

/** Starts `node bin/ferry.js ...args`. */
export function spawnFerry (args: string[], opts: SpawnOptions = {}): FerryProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    // A belt to the --no-mdns braces: a child that would start mDNS in the root namespace refuses to.
    env: { ...process.env, ...opts.env, FERRY_MDNS_NETNS_ONLY: '1', NO_COLOR: '1' }
  })
  if (opts.input !== undefined) child.stdin!.end(opts.input)
  return new FerryProcess(opts.name ?? args[0] ?? 'ferry', args, child)
}

export interface RunResult extends Exit {
  stdout: string
  stderr: string
}

/** Runs a short command (seed, export, inspect) to its end. */
export async function runFerry (args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const p = spawnFerry(args)
  const chunks: Buffer[] = []
  p.child.stdout!.on('data', (d: Buffer) => chunks.push(d))
  const exit = await p.waitExit(timeoutMs).catch(async err => { await p.kill9(); throw err })
  return { ...exit, stdout: Buffer.concat(chunks).toString('utf8'), stderr: p.stderr }
}

/** Like runFerry, but fails the test unless the command exits 0. */
export async function ferryOk (args: string[], timeoutMs?: number): Promise<string> {
  const r = await runFerry(args, timeoutMs)
  if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} exited ${r.code ?? r.signal}\n${r.stderr}`)
  return r.stdout
}

/** SIGKILLs every process the tests started that is still running (afterEach). */
export async function killAll (): Promise<void> {
  await Promise.all([...live].map(async p => await p.kill9()))
}

// ---- stores and temp dirs ----

export { cleanupTempDirs, tempDir } from '../../helpers/stores.js'
import { tempDir } from '../../helpers/stores.js'

/** Seeds a store once; tests copy it (copyStore) so every sender starts from a pristine phone. */
export async function seedStore (profile: 'tiny' | 'small', seed = 1): Promise<string> {
  const dir = join(tempDir(`ferry-seed-${profile}-`), 'phone')
  await ferryOk(['seed', '--store', dir, '--profile', profile, '--seed', String(seed)], 120_000)
  return dir
}

/** A copy of a closed store (history.db, media/) in a fresh temp dir: a phone with its own new peer id. */
export function copyStore (from: string, name = 'old-phone'): string {
  const dir = join(tempDir(), name)
  cpSync(from, dir, { recursive: true })
  // A copy is another phone: its own identity, and none of the first one's transfers or pairing.
  for (const f of ['journal', 'peer.key']) rmSync(join(dir, f), { recursive: true, force: true })
  return dir
}

/** A path for a store that does not exist yet (receive creates it). */
export function newStorePath (name = 'new-phone'): string {
  return join(tempDir(), name)
}

export interface InspectReport {
  stats: { contacts: number, conversations: number, messages: number, media: number, mediaPresent: number, mediaBytesPresent: number, mediaMissing: number, mediaBytesMissing: number }
  conversations: Array<{ id: string, kind: string, title: string, members: number, messages: number }>
  transfers: Array<{ transferId: string, sourceId: string, selection: { conversations?: string[], since?: number, until?: number }, messages: number, sessions: number, updatedAt: string }>
  partialMedia: Array<{ sha256: string, length: number, size?: number }>
  pairing?: { role: 'sender' | 'receiver', peer: string, nameplate: string, addrs: string[], since: string }
  formerIds?: string[]
}

export async function inspect (store: string): Promise<InspectReport> {
  // The report as an app reads it: one `inspected` event, whose time (`at`) two reports need not share.
  const { event, at, ...report } = JSON.parse(await ferryOk(['inspect', '--store', store, '--json'])) as InspectReport & { event: string, at: number }
  if (event !== 'inspected' || typeof at !== 'number') throw new Error(`inspect --json printed no inspected event: ${String(event)}`)
  return report
}

/** The canonical NDJSON of a store, as `ferry export` writes it. */
export async function exportStore (store: string): Promise<string> {
  const out = join(tempDir('ferry-export-'), 'history.ndjson')
  await ferryOk(['export', '--store', store, '--out', out])
  return readFileSync(out, 'utf8')
}

// ---- send / receive ----

export interface SendOptions {
  code?: string
  listen?: string
  extra?: string[]
  name?: string
  /** stdin (e.g. the code, for --code -). */
  input?: string
  env?: NodeJS.ProcessEnv
}

export function startSender (store: string, o: SendOptions = {}): FerryProcess {
  const args = ['send', '--store', store, NO_MDNS, '--json', '--listen', o.listen ?? LOOPBACK]
  if (o.code !== undefined) args.push('--code', o.code)
  return spawnFerry([...args, ...(o.extra ?? [])], { name: o.name ?? 'sender', input: o.input, env: o.env })
}

export interface ReceiveOptions {
  code?: string
  peer?: string
  qr?: string
  extra?: string[]
  name?: string
  /** stdin (e.g. the code, for --code -). */
  input?: string
  env?: NodeJS.ProcessEnv
}

export function startReceiver (store: string, o: ReceiveOptions = {}): FerryProcess {
  const args = ['receive', '--store', store, NO_MDNS, '--json', '--listen', LOOPBACK]
  if (o.code !== undefined) args.push('--code', o.code)
  if (o.peer !== undefined) args.push('--peer', o.peer)
  if (o.qr !== undefined) args.push('--qr', o.qr)
  return spawnFerry([...args, ...(o.extra ?? [])], { name: o.name ?? 'receiver', input: o.input, env: o.env })
}

/** The sender's first event: its code, QR payload and loopback address. */
export async function senderReady (sender: FerryProcess): Promise<{ code: string, qr: string, peerId: string, addr: string }> {
  const e = await sender.waitFor('the code or resuming event', x => x.event === 'code' || x.event === 'resuming')
  const addrs = e.addrs as string[]
  const addr = addrs.find(a => a.startsWith('/ip4/127.0.0.1/'))
  if (addr === undefined) throw new Error(`sender announced no loopback address: ${JSON.stringify(addrs)}`)
  return { code: e.code as string, qr: e.qr as string, peerId: e.peerId as string, addr }
}

export function tcpPort (multiaddr: string): number {
  const m = /\/tcp\/(\d+)/.exec(multiaddr)
  if (m === null) throw new Error(`no tcp port in ${multiaddr}`)
  return Number(m[1])
}

/** Exit code and the `[CODE]` of its `ferry: message [CODE]` line on stderr. */
export function errorCode (stderr: string): string | undefined {
  return /^ferry: .*\[([A-Z_]+)\]$/m.exec(stderr)?.[1]
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
