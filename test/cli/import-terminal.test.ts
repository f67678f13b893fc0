// `ferry import -` with a terminal on standard input waits for a person to paste the export, and would
// only look stuck: it says what it waits for and how to end it, before reading. A real pseudo-terminal,
// made by util-linux's `script`, is its standard input (and output); a pipe or a file is never told.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
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
async function onTerminal (args: string[], question = PROMPT, stdoutTo?: string): Promise<{ child: ChildProcessWithoutNullStreams, output: () => string, closed: Promise<number | null> }> {
  // Standard output to a file keeps --json's lines apart from what the terminal shows (questions, stderr).
  const command = [process.execPath, FERRY, ...args].map(quote).join(' ') + (stdoutTo === undefined ? '' : ` > ${quote(stdoutTo)}`)
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FERRY_MDNS_NETNS_ONLY: '1' } })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  const closed = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  await until('the command to say what it waits for', () => output.includes(question) || child.exitCode !== null)
  return { child, output: () => output, closed }
}

/** A phone imported from the fixture and a password-protected backup of it, in a folder of their own. */
function phoneWithBackup (): { dir: string, phone: string, backup: string } {
  const dir = tempDir()
  const phone = join(dir, 'phone')
  expect(ferry('import', NDJSON, '--store', phone).status).toBe(0)
  const password = join(dir, 'password')
  writeFileSync(password, 'correct horse battery\n')
  const backup = join(dir, 'chats.ferrybak')
  expect(ferry('backup', '--store', phone, '--out', backup, '--password-file', password).status).toBe(0)
  return { dir, phone, backup }
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

describe('a question asked on a terminal, answered with Ctrl-C', () => {
  // The terminal is raw while a code or a password is typed, so the key comes as input, not SIGINT;
  // pressed as the question appears, before the terminal reads raw, it comes as the signal (and so does
  // `kill -INT`). Either is a stop (exit 130, as --help says of Ctrl-C), not a failure, an "unexpected
  // error" or a "cancelled [CANCELLED]".
  it.skipIf(skip).each<[string, (child: ChildProcessWithoutNullStreams, made: string) => void]>([
    ['the key', child => { child.stdin.write('\x03') }],
    ['SIGINT', (_child, made) => {
      // The ferry process itself (not `script`, whose command line names the same path).
      const pids = spawnSync('pgrep', ['-f', made], { encoding: 'utf8' }).stdout.split('\n').filter(p => p !== '' && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'node')
      expect(pids).toHaveLength(1)
      process.kill(Number(pids[0]), 'SIGINT')
    }]
  ])('receive\'s code, backup\'s and restore\'s passwords, stopped by %s: exit 130, nothing done, nothing made', async (_how, stop) => {
    const { dir, phone, backup } = phoneWithBackup()
    const nobody = '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWHFrmLWTTDD4NodngMRNfSxMhxLdJ5P7bZKSWHjHjqzrh'
    const asked = [
      { args: ['receive', '--store', join(dir, 'new-phone'), '--no-mdns', '--no-sweep', '--peer', nobody], question: 'Pairing code shown on the old phone: ', made: join(dir, 'new-phone') },
      { args: ['backup', '--store', phone, '--out', join(dir, 'new.ferrybak')], question: 'Password for the backup: ', made: join(dir, 'new.ferrybak') },
      { args: ['restore', '--store', join(dir, 'restored'), '--in', backup], question: 'Password of the backup: ', made: join(dir, 'restored') }
    ]
    for (const { args, question, made } of asked) {
      const { child, output, closed } = await onTerminal(args, question)
      try {
        stop(child, made)
        expect(await closed, output()).toBe(130)
      } finally {
        if (child.exitCode === null) child.kill()
      }
      expect(output().replace(/\r\n/g, '\n'), args[0]).toMatch(/\nStopped: nothing was done\.\n$/)
      expect(output(), args[0]).not.toContain('ferry:')
      expect(existsSync(made), args[0]).toBe(false)
      expect(readdirSync(dir).filter(f => f.includes('.partial')), args[0]).toEqual([])
    }
  })
})

describe('backup\'s password question, stopped by a kill or a closed terminal', () => {
  // Not a key: the question has no say in it. The backup holds the lock on FILE.partial by then (a
  // backup to FILE that is running is refused before the question): its files go with it.
  it.skipIf(skip).each([['SIGTERM', 143], ['SIGHUP', 129]] as const)('%s: exit %i, nothing written, nothing left beside FILE', async (signal, exit) => {
    const { dir, phone } = phoneWithBackup()
    const out = join(dir, 'new.ferrybak')
    const { child, output, closed } = await onTerminal(['backup', '--store', phone, '--out', out], 'Password for the backup: ')
    try {
      expect(readdirSync(dir).filter(f => f.includes('.partial')).sort()).toEqual(['new.ferrybak.partial.lock', 'new.ferrybak.partial.lock.json'])
      const pids = spawnSync('pgrep', ['-f', out], { encoding: 'utf8' }).stdout.split('\n').filter(p => p !== '' && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'node')
      expect(pids).toHaveLength(1)
      process.kill(Number(pids[0]), signal)
      expect(await closed, output()).toBe(exit)
    } finally {
      if (child.exitCode === null) child.kill()
    }
    expect(output().replace(/\r\n/g, '\n')).toContain(`\nStopped. Nothing was backed up: ${out} is not written. Run the same backup again to back up.\n`)
    expect(existsSync(out)).toBe(false)
    expect(readdirSync(dir).filter(f => f.includes('.partial'))).toEqual([])
  })
})

describe('receive\'s code and restore\'s password, stopped by a kill or a closed terminal', () => {
  // Not a key: the question has no say in it, yet nothing is done, so it ends as Ctrl-C there does, with
  // its shell's code and a `stopped` line naming the signal; no store is left behind.
  it.skipIf(skip).each([['SIGTERM', 143], ['SIGHUP', 129]] as const)('%s: exit %i, a `stopped` line naming it, nothing made', async (signal, exit) => {
    const { dir, backup } = phoneWithBackup()
    const nobody = '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWHFrmLWTTDD4NodngMRNfSxMhxLdJ5P7bZKSWHjHjqzrh'
    const asked = [
      { args: ['receive', '--store', join(dir, 'new-phone'), '--no-mdns', '--no-sweep', '--peer', nobody], question: 'Pairing code shown on the old phone: ', made: join(dir, 'new-phone') },
      { args: ['restore', '--store', join(dir, 'restored'), '--in', backup], question: 'Password of the backup: ', made: join(dir, 'restored') }
    ]
    for (const [i, { args, question, made }] of asked.entries()) {
      const out = join(dir, `stdout-${signal}-${i}`)
      const { child, output, closed } = await onTerminal([...args, '--json'], question, out)
      try {
        // The ferry process itself (not `script`, whose command line names the same path).
        const pids = spawnSync('pgrep', ['-f', made], { encoding: 'utf8' }).stdout.split('\n').filter(p => p !== '' && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'node')
        expect(pids).toHaveLength(1)
        process.kill(Number(pids[0]), signal)
        expect(await closed, output()).toBe(exit)
      } finally {
        if (child.exitCode === null) child.kill()
      }
      const lines = readFileSync(out, 'utf8').split('\n').filter(l => l !== '')
      expect(lines, `${args[0]}`).toHaveLength(1)
      expect(JSON.parse(lines[0]), `${args[0]}`).toMatchObject({ event: 'stopped', signal })
      expect(output(), `${args[0]}`).not.toContain('ferry:')
      expect(existsSync(made), `${args[0]}`).toBe(false)
    }
  })
})

describe('Ctrl-C at a question under --json', () => {
  // An app reading --json's lines hears of a stop as of any other outcome: a `stopped` line, exit 130,
  // and nothing else on standard output. Every question each command asks, and import's wait for a paste.
  it.skipIf(skip)('each question of receive, backup, restore and import says `stopped` as one JSON line', async () => {
    const { dir, phone, backup } = phoneWithBackup()
    // A store with no pairing to resume: receive asks for the code after opening it.
    const unpaired = join(dir, 'unpaired')
    expect(ferry('import', NDJSON, '--store', unpaired).status).toBe(0)
    const nobody = '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWHFrmLWTTDD4NodngMRNfSxMhxLdJ5P7bZKSWHjHjqzrh'
    const asked = [
      { args: ['receive', '--store', join(dir, 'new-phone'), '--no-mdns', '--no-sweep', '--peer', nobody], question: 'Pairing code shown on the old phone: ' },
      { args: ['receive', '--store', unpaired, '--no-mdns', '--no-sweep', '--peer', nobody], question: 'Pairing code shown on the old phone: ' },
      { args: ['backup', '--store', phone, '--out', join(dir, 'new.ferrybak')], question: 'Password for the backup: ' },
      { args: ['backup', '--store', phone, '--out', join(dir, 'new.ferrybak')], question: 'Password for the backup: ', first: 'correct horse\r', then: 'Same password again: ' },
      { args: ['restore', '--store', join(dir, 'restored'), '--in', backup], question: 'Password of the backup: ' },
      { args: ['import', '-', '--store', join(dir, 'pasted')], question: PROMPT }
    ]
    for (const [i, { args, question, first, then }] of asked.entries()) {
      const out = join(dir, `stdout-${i}`)
      const { child, output, closed } = await onTerminal([...args, '--json'], question, out)
      try {
        if (first !== undefined && then !== undefined) {
          child.stdin.write(first)
          await until('the second question', () => output().includes(then) || child.exitCode !== null)
        }
        child.stdin.write('\x03')
        expect(await closed, output()).toBe(130)
      } finally {
        if (child.exitCode === null) child.kill()
      }
      const lines = readFileSync(out, 'utf8').split('\n').filter(l => l !== '')
      expect(lines, `${args[0]} #${i}`).toHaveLength(1)
      expect(JSON.parse(lines[0]), `${args[0]} #${i}`).toMatchObject({ event: 'stopped', signal: 'SIGINT' })
      expect(output(), `${args[0]} #${i}`).not.toContain('ferry:')
    }
  })
})

/** The history a fresh store holds once NDJSON is imported from its path, as `ferry export` writes it. */
function exportOf (file: string): string {
  const store = join(tempDir(), 'from-path')
  expect(ferry('import', file, '--store', store).status).toBe(0)
  return ferry('export', '--store', store).stdout
}
