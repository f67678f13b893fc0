import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, jsonLines, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'

// A backup stopped otherwise than with Ctrl-C. Killed outright (SIGKILL, a power cut) it leaves
// FILE.partial, which only its lock tells apart from the file of a backup still running: the next backup
// to FILE removes the one no process holds and backs up, and refuses the other, naming its process.
// Stopped by `kill` or a closed terminal it tidies up as on Ctrl-C. Each backup holds a few MiB in
// (FERRY_TEST_HOLD_BACKUP), so it is stopped or raced with its file half written, deterministically.

const dir = tempDir()
const src = join(dir, 'phone')

beforeAll(async () => {
  const store = openStore(src)
  await fillStore(store, { conversations: 1, messagesPerConversation: 10, mediaSizes: [6e6] })
  store.close()
}, 60_000)

afterAll(() => cleanupTempDirs())

interface Held { child: ChildProcessWithoutNullStreams, said: () => string, closed: Promise<{ code: number | null, signal: NodeJS.Signals | null }> }

/** A backup to `out` held with its partial file half written; `said` is its stderr (its stdout with --json). */
async function heldBackup (out: string, ...more: string[]): Promise<Held> {
  const child = spawn(process.execPath, [FERRY, 'backup', '--store', src, '--out', out, '--no-password', ...more], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FERRY_TEST_HOLD_BACKUP: '1' }
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
  await until('the backup is half written', () => (statSync(`${out}.partial`, { throwIfNoEntry: false })?.size ?? 0) > 4 * 1024 * 1024)
  return { child, said: () => more.includes('--json') ? stdout : stderr, closed }
}

/** The backup of `src` at `out` restores its 10 messages and its media file. */
function restoresWhole (out: string): void {
  const restored = tempDir('restored')
  const r = ferry('restore', '--store', restored, '--in', out)
  expect(r.status, r.stderr).toBe(0)
  expect(JSON.parse(ferry('inspect', '--store', restored, '--json').stdout).stats).toMatchObject({ messages: 10, mediaPresent: 1 })
}

/** What the backups left in `folder` beside their files: nothing. */
function leftovers (folder: string): string[] {
  return readdirSync(folder).filter(f => f.includes('.partial'))
}

describe('ferry backup killed outright', () => {
  it('leaves FILE.partial, which the same backup run again removes before backing up', async () => {
    const folder = tempDir('killed')
    const out = join(folder, 'chats.ferrybak')
    const held = await heldBackup(out)
    held.child.kill('SIGKILL')
    expect(await held.closed).toEqual({ code: null, signal: 'SIGKILL' })
    expect(existsSync(`${out}.partial`), 'a SIGKILL leaves the partial file').toBe(true)
    const again = ferry('backup', '--store', src, '--out', out, '--no-password')
    expect(again.status, again.stderr).toBe(0)
    expect(again.stderr).toMatch(/^Backed up 10 messages/)
    expect(leftovers(folder)).toEqual([])
    restoresWhole(out)
  }, 60_000)
})

describe('two backups to one file at once', () => {
  it('refuses the second, naming the process of the first, which goes on and writes a whole backup', async () => {
    const folder = tempDir('raced')
    const out = join(folder, 'chats.ferrybak')
    const first = await heldBackup(out)
    const second = ferry('backup', '--store', src, '--out', out, '--no-password')
    expect(second.status).toBe(1)
    expect(second.stderr).toBe(`ferry: ${out}.partial is being written by process ${first.child.pid ?? 0} (ferry backup), ` +
      'a backup to the same file: wait for it to finish, or stop it, or choose another --out [STORE_BUSY]\n')
    const partial = statSync(`${out}.partial`)
    expect(partial.size, 'the first backup\'s file is untouched').toBeGreaterThan(4 * 1024 * 1024)
    first.child.kill('SIGUSR2')
    expect(await first.closed, first.said()).toEqual({ code: 0, signal: null })
    expect(leftovers(folder)).toEqual([])
    restoresWhole(out)
  }, 60_000)
})

// A `kill` and a closed terminal: as Ctrl-C, the partial file goes and the older backup at FILE stays.
describe.each([['SIGTERM', 143], ['SIGHUP', 129]] as const)('ferry backup stopped with %s', (signal, exit) => {
  it(`takes its partial file away, leaves FILE as it was, says so, exits ${exit}`, async () => {
    const folder = tempDir(signal)
    const out = join(folder, 'chats.ferrybak')
    expect(ferry('backup', '--store', src, '--out', out, '--no-password').status).toBe(0)
    const older = readFileSync(out)
    const held = await heldBackup(out, '--json')
    held.child.kill(signal)
    expect(await held.closed, held.said()).toEqual({ code: exit, signal: null })
    // Held at its first progress, which --json tells as an event.
    expect(jsonLines(held.said()).filter(e => e.event !== 'progress')).toEqual([{
      event: 'stopped', at: expect.any(Number), signal, message: `Stopped. Nothing was backed up: ${out} is not written. Run the same backup again to back up.`
    }])
    expect(leftovers(folder)).toEqual([])
    expect(readFileSync(out).equals(older)).toBe(true)
  }, 60_000)
})
