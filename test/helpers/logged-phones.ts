import { disable, enable, prefixLogger } from '@libp2p/logger'
import { afterEach } from 'vitest'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { stoppedAfterEach } from './stopped.js'
import { tempDir } from './stores.js'

/**
 * Phones in this process, each with a logger of its own prefix, whose log lines a test reads: `enable`
 * the namespaces, then `captureStderr()` keeps every line the debug package writes (without colours)
 * instead of showing it, until `stopCapture()`. Stderr and DEBUG are put back after each test.
 */
export function loggedPhones (listen: string[]): { phone: (name: string) => Promise<Ferry>, captureStderr: () => string[], stopCapture: () => void } {
  const { phones } = stoppedAfterEach()
  const debugBefore = process.env.DEBUG
  let restore: (() => void) | undefined

  /** Shows stderr again (the lines kept so far stay). */
  function stopCapture (): void {
    restore?.()
    restore = undefined
  }

  afterEach(() => {
    stopCapture()
    disable()
    if (debugBefore === undefined) delete process.env.DEBUG
    else enable(debugBefore)
  })

  function captureStderr (): string[] {
    const lines: string[] = []
    const write = process.stderr.write
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      lines.push(...String(chunk).replace(/\x1b\[[0-9;]*m/g, '').split('\n'))
      const done = rest.find(r => typeof r === 'function') as (() => void) | undefined
      done?.()
      return true
    }) as typeof process.stderr.write
    restore = () => { process.stderr.write = write }
    return lines
  }

  async function phone (name: string): Promise<Ferry> {
    const p = await createFerry(tempDir(`${name}-`), { listen, memory: false, logger: prefixLogger(name) })
    phones.push(p)
    return p
  }

  return { phone, captureStderr, stopCapture }
}
