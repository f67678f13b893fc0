import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Phone, Testbed } from '../../../scripts/lib/netns.js'
import type { NetPeerConfig } from './net-peer.js'

const HELPER = fileURLToPath(new URL('./net-peer.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export interface PeerEvent {
  ev: string
  t: number
  /** Date.now() in the child: comparable across processes on one machine. */
  wall: number
  [k: string]: unknown
}

/** Drives one net-peer.ts child process: a Ferry node in another process, maybe another namespace. */
export class PeerProcess {
  readonly events: PeerEvent[] = []
  private readonly waiters = new Set<() => void>()
  private exited?: string
  stderr = ''

  private constructor (readonly name: string, readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', line => {
      let e: PeerEvent
      try { e = JSON.parse(line) as PeerEvent } catch { e = { ev: 'stdout', t: -1, wall: Date.now(), line } }
      this.events.push(e)
      for (const w of [...this.waiters]) w()
    })
    child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-8000) })
    child.on('exit', (code, signal) => {
      this.exited = `exited with ${code ?? signal}`
      for (const w of [...this.waiters]) w()
    })
  }

  static start (name: string, cfg: NetPeerConfig, where?: { testbed: Testbed, phone: Phone }): PeerProcess {
    const argv = [process.execPath, '--import', 'tsx', HELPER, JSON.stringify(cfg)]
    // FERRY_MDNS_NETNS_ONLY: a child that would run mDNS in the root namespace refuses to start.
    const opts = { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] as Array<'pipe'>, env: { ...process.env, FERRY_MDNS_NETNS_ONLY: '1' } }
    const child = where !== undefined ? where.testbed.spawn(where.phone, argv, opts) : spawn(argv[0], argv.slice(1), opts)
    return new PeerProcess(name, child)
  }

  send (cmd: Record<string, unknown>): void {
    this.child.stdin!.write(JSON.stringify(cmd) + '\n')
  }

  /** Resolves with the first event (past or future) matching `pred`; rejects on timeout, exit or an error event. */
  async waitFor (what: string, pred: (e: PeerEvent) => boolean, timeoutMs = 15_000): Promise<PeerEvent> {
    return await new Promise<PeerEvent>((resolve, reject) => {
      const check = (): void => {
        const hit = this.events.find(pred)
        if (hit !== undefined) { done(); resolve(hit); return }
        const err = this.events.find(e => e.ev === 'error')
        if (err !== undefined) { done(); reject(new Error(`${this.name} failed while waiting for ${what}: ${String(err.message)}`)); return }
        if (this.exited !== undefined) { done(); reject(new Error(`${this.name} ${this.exited} while waiting for ${what}\n${this.stderr}`)) }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(this.events.slice(-10))}\n${this.stderr}`))
      }, timeoutMs)
      const done = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
      check()
    })
  }

  async stop (): Promise<void> {
    if (this.exited !== undefined) return
    const gone = new Promise<void>(resolve => this.child.once('exit', () => resolve()))
    this.send({ cmd: 'stop' })
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000)
    await gone
    clearTimeout(timer)
  }
}
