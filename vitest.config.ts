import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./src/polyfill.ts'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Guard rail: mDNS refuses to start outside a named network namespace, so no test multicasts
    // out of this machine's real interface.
    env: { FERRY_MDNS_NETNS_ONLY: '1' },
    reporters: process.env.CI ? ['default'] : ['default']
  }
})
