import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { FERRY, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'

// `ferry import` stopped with Ctrl-C half way: an import is all or nothing, and a person who stops one
// is told what it left. Its history arrives on stdin, so the test holds it half read, deterministically.

const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')

afterAll(() => cleanupTempDirs())

describe('ferry import stopped with Ctrl-C', () => {
  it('leaves no half-made store behind, says so and exits 130', async () => {
    const store = join(tempDir(), 'new-phone')
    const child = spawn(process.execPath, [FERRY, 'import', '-', '--store', store], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
    const lines = readFileSync(FIXTURE, 'utf8').split('\n')
    // Half the history in, the pipe left open: the import has made its store and waits for the rest.
    child.stdin.write(lines.slice(0, lines.length / 2).join('\n') + '\n')
    await until('the store is made', () => existsSync(join(store, 'history.db')))
    child.kill('SIGINT')
    const exit = await closed
    child.stdin.destroy()
    expect(exit, stderr).toEqual({ code: 130, signal: null })
    expect(stderr).toBe(`\nStopped: nothing was imported (the new store ${store} is removed). Run the same import again to import it.\n`)
    expect(existsSync(store)).toBe(false)
  })
})
