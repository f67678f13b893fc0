// Ports on 127.0.0.1 for the listeners the benchmark starts that cannot report their own (sshd, socat).
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** A port that was free on 127.0.0.1 a moment ago (the kernel's pick; the caller binds it next). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

/** Whether something listens on 127.0.0.1:`port` (TCP), from /proc/net/tcp: no connection is made. */
export function isListening (port: number): boolean {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
  try {
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f[1] === want && f[3] === '0A') return true // 0A: TCP_LISTEN
    }
  } catch {}
  return false
}

/**
 * Resolves once 127.0.0.1:`port` listens; rejects after `timeoutMs`, or as soon as `failed()` says
 * the listener will never come (it exited). Polls rather than connects: a one-shot listener (socat)
 * would take a probe for its one connection.
 */
export async function waitListening (port: number, what: string, failed: () => Error | undefined, timeoutMs = 10_000): Promise<void> {
  const until = performance.now() + timeoutMs
  for (;;) {
    if (isListening(port)) return
    const err = failed()
    if (err !== undefined) throw err
    if (performance.now() > until) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
