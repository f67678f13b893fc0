import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, killAll, spawnFerry } from '../e2e/helpers/ferry-cli.js'
import { ferry } from '../helpers/ferry-sync.js'

// `ferry web` serves the page on a port of its own unless told otherwise. The browser keeps the history,
// its libp2p key and its resume token in storage that belongs to the page's origin, so the default must
// not be a port that development servers take by habit (8080 was): any page served there later could
// read them. Its help says so, and what to do once the history is moved off.

afterEach(async () => { await killAll() })
afterAll(() => { cleanupTempDirs() })

describe('ferry web', () => {
  it('serves on 127.0.0.1:24770 by default, and says whose storage the page uses', async () => {
    const help = ferry('web', '--help')
    expect(help.stdout).toContain('--port N      port to serve on (default 24770; 0 picks a free one)')
    expect(help.stdout).toMatch(/any other page served there later can read the history/)
    expect(help.stdout).toMatch(/start over/)
    expect(help.stdout).not.toContain('8080')

    const web = spawnFerry(['web', '--json'], { name: 'web' })
    expect((await web.waitEvent('listening', 60_000)).url).toBe('http://127.0.0.1:24770/')
    const res = await fetch('http://127.0.0.1:24770/')
    expect(res.status).toBe(200)
  }, 90_000)
})
