// A pairing code typed at the prompt with a digit wrong: on a terminal `ferry receive` says so and asks
// again while the code has tries left, rather than ending the run (each try still counts). Given with
// --code the run ends, as a script wants. A real pseudo-terminal (util-linux's `script`) is the receive's
// terminal; the old phone is a real `ferry send` on loopback.
import { spawn, spawnSync } from 'node:child_process'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, copyStore, errorCode, exportStore, killAll, newStorePath, ROOT, runFerry, seedStore, senderReady, startSender } from './helpers/ferry-cli.js'
import { FERRY_BIN } from '../../src/cli/ferry-process.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { until } from '../helpers/until.js'

const CODE = '602-2140-7629'
const MISTYPED = '602-2140-7620'
const QUESTION = 'Pairing code shown on the old phone: '

let source: string

beforeAll(async () => { source = await seedStore('tiny', 9) }, 120_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

const noScript = spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0 ? undefined : 'util-linux\'s `script` is missing (apt-get install bsdutils)'

describe('a pairing code typed wrong', () => {
  it('at the prompt on a terminal: says so, asks again, and the code typed right pairs', async () => {
    if (cannotRun('the typed-code terminal test', noScript)) return
    const sender = startSender(copyStore(source), { code: CODE })
    const ready = await senderReady(sender)
    const target = newStorePath()
    const command = [process.execPath, FERRY_BIN, 'receive', '--store', target, '--no-mdns', '--no-sweep', '--peer', ready.addr].map(s => `'${s}'`).join(' ')
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FERRY_MDNS_NETNS_ONLY: '1' } })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    const closed = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
    const asked = (): number => output.split(QUESTION).length - 1
    try {
      await until('the question', () => asked() === 1 || child.exitCode !== null, 30_000)
      child.stdin.write(`${MISTYPED}\r`)
      await until('the question again', () => asked() === 2 || child.exitCode !== null, 30_000)
      expect(output).toContain('The code does not match the old phone\'s: check the digits (2 tries of that code left here; Ctrl-C stops).')
      child.stdin.write(`${CODE}\r`)
      expect(await closed, output).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill()
    }
    expect(output).toMatch(/Verified: 300 messages/)
    expect((await sender.waitExit()).code, sender.describe()).toBe(0)
    expect(await exportStore(target)).toBe(await exportStore(source))
  })

  it('given with --code: the run ends, saying how many tries are left', async () => {
    const sender = startSender(copyStore(source), { code: CODE })
    const ready = await senderReady(sender)
    const r = await runFerry(['receive', '--store', newStorePath(), '--no-mdns', '--no-sweep', '--peer', ready.addr, '--code', MISTYPED])
    expect(r.code, r.stderr).toBe(1)
    expect(errorCode(r.stderr)).toBe('WRONG_CODE')
    expect(r.stderr).toContain('check the digits. 2 tries of this code left here')
  })
})
