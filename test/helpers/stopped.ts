import { afterEach } from 'vitest'
import type { Ferry } from '../../src/create-ferry.js'
import { cleanupTempDirs } from './stores.js'

/**
 * The phones (`createFerry`) and bare libp2p nodes a suite starts, in lists it pushes onto: after each
 * test every one is stopped, whatever state the test left it in, and the temporary folders go.
 */
export function stoppedAfterEach<N extends { stop: () => unknown } = { stop: () => unknown }> (): { phones: Ferry[], nodes: N[] } {
  const phones: Ferry[] = []
  const nodes: N[] = []
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.stop().catch(() => {})
    for (const n of nodes.splice(0)) await Promise.resolve(n.stop()).catch(() => {})
    cleanupTempDirs()
  })
  return { phones, nodes }
}
