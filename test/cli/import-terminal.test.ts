// `ferry import -` with a terminal on standard input waits for a person to paste the export, and would
// only look stuck: it says what it waits for and how to end it, before reading. A real pseudo-terminal,
// made by util-linux's `script`, is its standard input (and output); a pipe or a file is never told.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'
import { cannotRun } from '../helpers/cannot-run.js'

const FIXTURES = join(ROOT, 'test', 'fixtures')
const NDJSON = join(FIXTURES, 'edge-cases.ndjson')
const PROMPT = 'Reading the export to import from the terminal: paste it, then press Ctrl-D at the start of a line to end it (Ctrl-C stops, importing nothing).'

/** `script` runs a command on a new pseudo-terminal; util-linux's ends its input with Ctrl-D once its own ends. */
const skip = cannotRun('the terminal import test', spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0 ? undefined : 'util-linux\'s `script` is missing (apt-get install bsdutils)')

afterAll(() => cleanupTempDirs())

const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`

/**
 * `ferry ARGS` run on a new pseudo-terminal (its standard input and output), once it has said what it
 * waits for: what is written to `child.stdin` is typed on that terminal.
 */
async function onTerminal (args: string[]): Promise<{ child: ChildProcessWithoutNullStreams, output: () => string, closed: Promise<number | null> }> {
  const command = [process.execPath, FERRY, ...args].map(quote).join(' ')
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  const closed = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  await until('the import to say what it waits for', () => output.includes(PROMPT) || child.exitCode !== null)
  return { child, output: () => output, closed }
}

describe('ferry import - on a terminal', () => {
  it.skipIf(skip)('says what it waits for and how to end it before reading, then imports what is pasted', async () => {
    const store = join(tempDir(), 'pasted')
    const { child, output, closed } = await onTerminal(['import', '-', '--store', store, '--base', FIXTURES])
    try {
      // Nothing is pasted until it has asked: what it says comes before any reading.
      expect(output().replace(/\r\n/g, '\n')).toBe(`${PROMPT}\n`)
      child.stdin.end(readFileSync(NDJSON))
      expect(await closed, output()).toBe(0)
    } finally {
      // An import still waiting on its terminal goes with it (script hangs the terminal up).
      if (child.exitCode === null) child.kill()
    }
    expect(output()).toMatch(/imported 6 contacts, 5 conversations, 5 media records \(4 files copied\), 19 messages into /)
    expect(ferry('export', '--store', store).stdout).toBe(exportOf(NDJSON))
  })

  it.skipIf(skip)('stopped with Ctrl-C while it waits, says so as a stopped import does, exits 130 and makes no store', async () => {
    const store = join(tempDir(), 'never-pasted')
    const { child, output, closed } = await onTerminal(['import', '-', '--store', store])
    try {
      // Ctrl-C typed on the terminal: its line discipline signals the import, as a person's key does.
      child.stdin.write('\x03')
      // script exits as the command it ran did (128 + the signal when one ended it).
      expect(await closed, output()).toBe(130)
    } finally {
      if (child.exitCode === null) child.kill()
    }
    expect(output().replace(/\r\n/g, '\n')).toContain('\nStopped: nothing was imported. Run the same import again to import it.\n')
    expect(existsSync(store)).toBe(false)
  })
})

/** The history a fresh store holds once NDJSON is imported from its path, as `ferry export` writes it. */
function exportOf (file: string): string {
  const store = join(tempDir(), 'from-path')
  expect(ferry('import', file, '--store', store).status).toBe(0)
  return ferry('export', '--store', store).stdout
}
