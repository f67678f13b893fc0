import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./src/polyfill.ts'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most of a test file's time waits on sockets, child processes and timers rather than a core, so
    // one file more than the machine has cores keeps every core busy: on a two-core machine three at a
    // time, where vitest's default (cores - 1) runs one. Test files never share names on disk or in the
    // kernel: stores live in their own temporary folders, and network namespaces carry the owning
    // process id. Every deadline a test asserts is a failure bound sized for a loaded machine.
    maxWorkers: availableParallelism() + 1,
    // Guard rail: mDNS refuses to start outside a named network namespace, so no test multicasts
    // out of this machine's real interface.
    env: { FERRY_MDNS_NETNS_ONLY: '1' },
    reporters: ['default']
  }
})
