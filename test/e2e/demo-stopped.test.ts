// However the demo is stopped (Ctrl-C, `kill`, `timeout`, a closed terminal, even SIGKILL), what it
// made does not outlive it for long: its phones, its namespaces and its hundreds of MB of folders.
// Each run gets a TMPDIR of its own, so its folder is whatever appears there.
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FERRY_BIN } from '../../src/cli/ferry-process.js'
import { checkNetnsSupport } from '../../scripts/lib/netns.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { until } from '../helpers/until.js'

afterAll(() => cleanupTempDirs())

interface Demo { child: ChildProcessWithoutNullStreams, stderr: () => string, closed: Promise<{ code: number | null, signal: NodeJS.Signals | null }>, tmp: string }

function startDemo (args: string[], env: NodeJS.ProcessEnv = {}): Demo {
  const tmp = tempDir()
  const child = spawn(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny', ...args], { env: { ...process.env, ...env, TMPDIR: tmp } })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout.resume()
  const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
  return { child, stderr: () => stderr, closed, tmp }
}

/** The pids of the processes whose command line names `dir`: the demo's phones run on stores in it. */
function processesUsing (dir: string): number[] {
  return readdirSync('/proc').filter(p => /^\d+$/.test(p)).filter(p => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)
    } catch {
      return false // gone meanwhile
    }
  }).map(Number)
}

const namespacesOf = (id: string): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map(l => l.split(' ')[0]).filter(ns => ns.startsWith(`${id}-`))

const HELD = { FERRY_TEST_HOLD_VERIFYING: '1' }
const LOOPBACK_SHOWN = 'The old phone shows the code'

describe('ferry demo stopped', () => {
  it('on loopback, SIGTERM (kill, timeout) and SIGHUP (a closed terminal) remove its phones and its folder', async () => {
    for (const [signal, exit] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      // Its new phone holds before Verified: the demo cannot end by itself before the signal lands.
      const d = startDemo(['--loopback'], HELD)
      try {
        await until('the demo to start its phones', () => d.stderr().includes(LOOPBACK_SHOWN) || d.child.exitCode !== null, 60_000)
        expect(d.stderr()).toContain(LOOPBACK_SHOWN)
        expect(readdirSync(d.tmp), 'the demo made its folder').toHaveLength(1)
        d.child.kill(signal)
        expect(await d.closed, d.stderr()).toEqual({ code: exit, signal: null })
      } finally {
        if (d.child.exitCode === null) d.child.kill('SIGKILL')
      }
      expect(readdirSync(d.tmp), `left behind after ${signal}`).toEqual([])
      expect(processesUsing(d.tmp), `phones left running after ${signal}`).toEqual([])
      if (signal === 'SIGTERM') expect(d.stderr()).toMatch(/Stopping: removing the phones, namespaces and files the demo made\.\.\.\nStopped: the demo is over, and nothing it made is left\.\n/)
    }
  })

  it('killed by SIGTERM on the simulated Wi-Fi, removes its namespaces, phones and folder', async () => {
    const support = await checkNetnsSupport()
    if (cannotRun('the demo across network namespaces', support.ok ? undefined : support.reason ?? 'unknown')) return
    const d = startDemo([], HELD)
    try {
      await until('the demo to put its phones on the Wi-Fi', () => /bridged in namespaces \S+-\*/.test(d.stderr()) || d.child.exitCode !== null, 60_000)
      const id = /bridged in namespaces (ferry-\S+)-\*/.exec(d.stderr())?.[1] ?? ''
      expect(namespacesOf(id), d.stderr()).toHaveLength(3)
      d.child.kill('SIGTERM')
      expect(await d.closed, d.stderr()).toEqual({ code: 143, signal: null })
      expect(namespacesOf(id)).toEqual([])
    } finally {
      if (d.child.exitCode === null) d.child.kill('SIGKILL')
    }
    expect(readdirSync(d.tmp)).toEqual([])
    expect(processesUsing(d.tmp)).toEqual([])
  })

  it('killed by SIGKILL, where nothing of it can clean up: the next demo removes its namespaces and phones', async () => {
    const support = await checkNetnsSupport()
    if (cannotRun('the demo across network namespaces', support.ok ? undefined : support.reason ?? 'unknown')) return
    // Its new phone holds before Verified, so its phones are still at it when it dies.
    const killed = startDemo([], HELD)
    let id = ''
    try {
      await until('the demo to start its phones', () => killed.stderr().includes('the new phone types it') || killed.child.exitCode !== null, 60_000)
      id = /bridged in namespaces (ferry-\S+)-\*/.exec(killed.stderr())?.[1] ?? ''
      expect(namespacesOf(id), killed.stderr()).toHaveLength(3)
      killed.child.kill('SIGKILL')
      await killed.closed
    } finally {
      if (killed.child.exitCode === null) killed.child.kill('SIGKILL')
    }
    // Its phones are still up in their namespaces: orphaned, and listening.
    expect(processesUsing(killed.tmp)).not.toEqual([])
    const next = spawnSync(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, TMPDIR: tempDir() } })
    expect(next.status, next.stderr).toBe(0)
    expect(namespacesOf(id)).toEqual([])
    expect(processesUsing(killed.tmp)).toEqual([])
  })

  it('killed by SIGKILL on loopback: the next demo removes the folder it left, and no folder of a live demo', async () => {
    // Its new phone holds before Verified: the demo is at work, its folder made, when it dies.
    const killed = startDemo(['--loopback'], HELD)
    let folder: string[] = []
    try {
      await until('the demo to start its phones', () => killed.stderr().includes(LOOPBACK_SHOWN) || killed.child.exitCode !== null, 60_000)
      folder = readdirSync(killed.tmp)
      expect(folder, killed.stderr()).toEqual([expect.stringMatching(new RegExp(`^ferry-demo-p${killed.child.pid ?? 0}-`))])
      killed.child.kill('SIGKILL')
      expect(await killed.closed).toEqual({ code: null, signal: 'SIGKILL' })
    } finally {
      if (killed.child.exitCode === null) killed.child.kill('SIGKILL')
      // Its phones, orphaned and held: this test started them, and ends them by their pids.
      for (const pid of processesUsing(killed.tmp)) try { process.kill(pid, 'SIGKILL') } catch {}
    }
    expect(readdirSync(killed.tmp), 'what SIGKILL leaves').toEqual(folder)
    // Beside it, a folder named for a demo still running (this process) and one of another name: neither is touched.
    const live = `ferry-demo-p${process.pid}-abcdef`
    mkdirSync(join(killed.tmp, live))
    mkdirSync(join(killed.tmp, 'ferry-demo-p1x-abcdef'))

    const next = spawnSync(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny', '--loopback'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, TMPDIR: killed.tmp } })
    expect(next.status, next.stderr).toBe(0)
    expect(readdirSync(killed.tmp).sort()).toEqual(['ferry-demo-p1x-abcdef', live].sort())
  })

  it('Ctrl-C on a terminal while it moves the history gives the terminal back its cursor and line wrap, and says so', async () => {
    if (cannotRun('the demo on a terminal', spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0 ? undefined : 'util-linux\'s `script` is missing (apt-get install bsdutils)')) return
    const tmp = tempDir()
    // The new phone holds once everything arrived, before Verified: the bar is on show until Ctrl-C.
    const command = [process.execPath, FERRY_BIN, 'demo', '--profile', 'tiny', '--loopback'].map(s => `'${s}'`).join(' ')
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp, FERRY_TEST_HOLD_VERIFYING: '1' } })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    const closed = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
    try {
      await until('the progress bar', () => output.includes('moving') || child.exitCode !== null, 60_000)
      // The bar hid the cursor and turned line wrap off.
      expect(output).toContain('\x1b[?25l')
      expect(output).toContain('\x1b[?7l')
      // Ctrl-C typed on the terminal: its line discipline signals the demo and its phones, as a key does.
      child.stdin.write('\x03')
      expect(await closed, output).toBe(130)
    } finally {
      if (child.exitCode === null) child.kill()
    }
    const afterBar = output.slice(output.lastIndexOf('\x1b[?25l'))
    expect(afterBar, 'the cursor is shown again').toContain('\x1b[?25h')
    expect(output.slice(output.lastIndexOf('\x1b[?7l')), 'line wrap is back').toContain('\x1b[?7h')
    expect(afterBar.replace(/\r\n/g, '\n')).toMatch(/\n\nStopping: removing the phones, namespaces and files the demo made\.\.\.\nStopped: the demo is over, and nothing it made is left\.\n/)
    expect(readdirSync(tmp)).toEqual([])
  })
})
