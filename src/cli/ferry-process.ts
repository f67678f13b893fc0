import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ErrorCode, FerryError } from '../errors.js'

export const FERRY_BIN = fileURLToPath(new URL('../../bin/ferry.js', import.meta.url))

export type FerryJsonEvent = { event: string } & Record<string, unknown>

/** Runs `ferry <args> --json` as a child process and reads its JSON events as they come. */
export class FerryProcess {
  readonly child: ChildProcess
  readonly events: FerryJsonEvent[] = []
  stderr = ''
  readonly exited: Promise<number | null>
  private waiters: Array<() => void> = []

  /** `wrap` prefixes the command, e.g. ['ip', 'netns', 'exec', ns] to run it inside a namespace. */
  constructor (args: string[], opts: { wrap?: string[], env?: NodeJS.ProcessEnv } = {}) {
    const argv = [...(opts.wrap ?? []), process.execPath, FERRY_BIN, ...args]
    this.child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } })
    let buf = ''
    this.child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        try { this.events.push(JSON.parse(line)) } catch { /* not an event */ }
      }
      this.wake()
    })
    this.child.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString() })
    this.exited = new Promise(resolve => this.child.on('exit', code => { this.wake(); resolve(code) }))
  }

  private wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Resolves with the first event matching `pred`; rejects if the process exits first or time runs out. */
  async waitFor (pred: (e: FerryJsonEvent) => boolean, timeoutMs = 60_000): Promise<FerryJsonEvent> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.events.find(pred)
      if (hit !== undefined) return hit
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new FerryError(ErrorCode.INTERNAL, `ferry exited (${this.child.exitCode ?? this.child.signalCode}) before the awaited event: ${this.stderr.trim()}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new FerryError(ErrorCode.INTERNAL, `timed out waiting for a ferry event; stderr: ${this.stderr.trim()}`)
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  kill (signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
  }
}
