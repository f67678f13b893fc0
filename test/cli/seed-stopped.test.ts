import { spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'

// `ferry seed` stopped with Ctrl-C half way: a store it created goes, as when it fails; a store that was
// there is said to be partial, with the line that finishes it. The seed holds once its media and metadata
// are in (FERRY_TEST_HOLD_SEED), so the signal lands with the store half seeded, deterministically.

afterAll(() => cleanupTempDirs())

async function stoppedSeed (store: string, ...flags: string[]): Promise<{ exit: { code: number | null, signal: NodeJS.Signals | null }, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [FERRY, 'seed', '--store', store, '--profile', 'tiny', ...flags], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_TEST_HOLD_SEED: '1' }
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
  await until('the seed holds half way', () => stdout.includes('"event":"held"') || stderr.includes('Held: '))
  child.kill('SIGINT')
  return { exit: await closed, stdout, stderr }
}

describe('ferry seed stopped with Ctrl-C', () => {
  it('removes the store it created and says so, as a `stopped` event with --json', async () => {
    const store = join(tempDir(), 'new-phone')
    const { exit, stdout, stderr } = await stoppedSeed(store, '--json')
    expect(exit, stderr).toEqual({ code: 130, signal: null })
    const events = stdout.trim().split('\n').map(l => JSON.parse(l) as { event: string, message?: string })
    expect(events.at(-1)).toMatchObject({
      event: 'stopped',
      message: `Stopped: nothing was seeded (the new store ${store} is removed). Run the same seed again to seed it.`
    })
    expect(existsSync(store)).toBe(false)
  })

  it('says a store that was there is partial, and the line it gives finishes it', async () => {
    const dir = tempDir()
    const store = join(dir, 'phone')
    mkdirSync(store)
    const { exit, stderr } = await stoppedSeed(store)
    expect(exit, stderr).toEqual({ code: 130, signal: null })
    const line = `ferry seed --store ${store} --profile tiny --force`
    expect(stderr).toContain(`\nStopped: ${store} holds part of the seeded history. Run ${line} to finish it: what is seeded stays, the rest is added.\n`)
    // Partial indeed: its media and chats are in, none of its messages.
    expect(ferry('export', '--store', store).stdout).not.toContain('"type":"message"')

    expect(ferry(...line.split(' ').slice(1)).status).toBe(0)
    const whole = join(dir, 'whole')
    expect(ferry('seed', '--store', whole, '--profile', 'tiny').status).toBe(0)
    expect(ferry('export', '--store', store).stdout).toBe(ferry('export', '--store', whole).stdout)
  })
})
