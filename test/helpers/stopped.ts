import { afterEach } from 'vitest'
import type { Ferry } from '../../src/create-ferry.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
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

/**
 * Opens a journal on a folder, as a process does on starting: after each test every journal opened so
 * is closed (a restart is a second open of the same folder) and the temporary folders go.
 */
export function journalsClosedAfterEach (): (dir: string) => NodeJournal {
  const journals: NodeJournal[] = []
  afterEach(async () => {
    for (const j of journals.splice(0)) await j.close()
    cleanupTempDirs()
  })
  return dir => {
    const j = NodeJournal.open(dir)
    journals.push(j)
    return j
  }
}
