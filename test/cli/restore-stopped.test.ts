import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, ROOT } from '../helpers/ferry-sync.js'

// `ferry restore` stopped with Ctrl-C: as `ferry receive` does, it says how to carry on and exits 130,
// rather than vanish without a word. The password comes through a FIFO the test holds open, so the
// signal lands while the restore is under way, deterministically.

const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')
const dir = tempDir()
const backup = join(dir, 'chats.ferrybak')

beforeAll(() => {
  const password = join(dir, 'password')
  writeFileSync(password, 'correct horse\n')
  expect(ferry('import', FIXTURE, '--store', join(dir, 'old-phone')).status).toBe(0)
  expect(ferry('backup', '--store', join(dir, 'old-phone'), '--out', backup, '--password-file', password).status).toBe(0)
}, 60_000)

afterAll(() => cleanupTempDirs())

// A `kill` (SIGTERM) and the terminal closed (SIGHUP) stop it as Ctrl-C does, each with its shell's code.
describe.each([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)('ferry restore stopped with %s', (signal, exit) => {
  it(`says the whole line to run again to carry on, and exits ${exit}`, async () => {
    const fifo = join(dir, `password-${signal}.fifo`)
    execFileSync('mkfifo', [fifo])
    const store = join(dir, `new phone ${signal}`)
    const child = spawn(process.execPath, [FERRY, 'restore', '--store', store, '--in', backup, '--password-file', fifo, '--chats', 'g-family,c1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
    // Opening the FIFO to write completes once the restore has opened it to read its password.
    const writer = await open(fifo, 'w')
    child.kill(signal)
    await writer.write('correct horse\n')
    await writer.close()
    expect(await closed, stderr).toEqual({ code: exit, signal: null })
    // The line as run, so that running it carries on the same restore: the chats asked for and no
    // others, the password file a script needs (a path, no secret), the store's path quoted for its space.
    expect(stderr).toBe(`\nStopped. Run ferry restore --store '${store}' --in ${backup} --password-file ${fifo} --chats g-family,c1 again to carry on where it stopped: what is restored stays.\n`)
  })
})
