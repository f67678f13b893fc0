import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'

// `ferry seed` stopped with Ctrl-C half way: a store it created goes, as when it fails; a store that was
// there is said to be partial, with the line that finishes it. The seed holds once its media and metadata
// are in (FERRY_TEST_HOLD_SEED), so the signal lands with the store half seeded, deterministically. A `kill` (SIGTERM) and the terminal closed
// (SIGHUP) stop it the same way, each with its shell's exit code.

afterAll(() => cleanupTempDirs())

async function stoppedSeed (signal: NodeJS.Signals, store: string, ...flags: string[]): Promise<{ exit: { code: number | null, signal: NodeJS.Signals | null }, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [FERRY, 'seed', '--store', store, '--profile', 'tiny', ...flags], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_TEST_HOLD_SEED: '1' }
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
  await until('the seed holds half way', () => stdout.includes('"event":"held"') || stderr.includes('Held: '))
  child.kill(signal)
  return { exit: await closed, stdout, stderr }
}

describe.each([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)('ferry seed stopped with %s', (signal, code) => {
  it('removes the store it created and says so, as a `stopped` event with --json', async () => {
    const store = join(tempDir(), 'new-phone')
    const { exit, stdout, stderr } = await stoppedSeed(signal, store, '--json')
    expect(exit, stderr).toEqual({ code, signal: null })
    const events = stdout.trim().split('\n').map(l => JSON.parse(l) as { event: string, message?: string })
    expect(events.at(-1)).toMatchObject({
      event: 'stopped',
      signal,
      message: `Stopped: nothing was seeded (the new store ${store} is removed). Run the same seed again to seed it.`
    })
    expect(existsSync(store)).toBe(false)
  })

  it('says a store that was there is partial, and the line it gives finishes it', async () => {
    const dir = tempDir()
    const store = join(dir, 'phone')
    mkdirSync(store)
    const { exit, stderr } = await stoppedSeed(signal, store)
    expect(exit, stderr).toEqual({ code, signal: null })
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

describe('ferry seed killed outright (SIGKILL, a power cut)', () => {
  it('leaves the media files it wrote before their records to the next writer, which removes them', async () => {
    const dir = tempDir()
    const store = join(dir, 'phone')
    const mediaFiles = (): string[] => readdirSync(join(store, 'media')).filter(d => /^[0-9a-f]{2}$/.test(d))
      .flatMap(d => readdirSync(join(store, 'media', d))).sort()
    // Held once its media files are written, before their records (FERRY_TEST_HOLD_SEED_MEDIA): killed
    // there, it runs no cleanup, and the files are complete in media/, named by nothing.
    const child = spawn(process.execPath, [FERRY, 'seed', '--store', store, '--profile', 'tiny', '--json'], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_TEST_HOLD_SEED_MEDIA: '1' }
    })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
    await until('the seed holds with its media written', () => stdout.includes('"event":"held"'))
    child.kill('SIGKILL')
    expect(await closed).toEqual({ code: null, signal: 'SIGKILL' })
    const left = mediaFiles()
    expect(left.length, 'the files the killed seed wrote').toBeGreaterThan(0)
    const inspected = ferry('inspect', '--store', store)
    expect(inspected.stdout).toContain(`  ${left.length} media files (`)
    expect(inspected.stdout).toContain(') left by an import or seed that was killed, named by no record')

    // The next command that writes the store (an import of one text message) removes every file no
    // record names: here all of them, the killed seed's records never were.
    const text = join(dir, 'text.ndjson')
    writeFileSync(text, [
      { type: 'conversation', id: 'c1', kind: 'direct', title: 'Bo', members: ['me', 'u2'] },
      { type: 'message', conversation: 'c1', id: 't1', sender: 'u2', ts: 1_700_000_000_000, kind: 'text', text: 'hi' }
    ].map(l => JSON.stringify(l)).join('\n') + '\n')
    const next = ferry('import', text, '--store', store)
    expect(next.status, next.stderr).toBe(0)
    expect(mediaFiles()).toEqual([])
    expect(readdirSync(join(store, 'media', '.tmp'))).toEqual([])

    // And the same seed then fills it whole, every file named by its record.
    expect(ferry('seed', '--store', store, '--profile', 'tiny', '--force').status).toBe(0)
    const records = (ferry('export', '--store', store).stdout.trim().split('\n').map(l => JSON.parse(l) as { type: string, sha256?: string }))
      .filter(l => l.type === 'media').map(l => l.sha256 as string).sort()
    expect(mediaFiles()).toEqual(records)
    expect(records).toEqual(left)
  })
})
