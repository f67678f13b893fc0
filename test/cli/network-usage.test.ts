import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { killAll, senderReady, startSender } from '../e2e/helpers/ferry-cli.js'

// send and receive as a person runs them, up to the network and no further: how a bad flag, a taken
// port or an unknown chat is said, and what it leaves behind. Loopback only, never mDNS or a sweep.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const FERRY = join(ROOT, 'bin', 'ferry.js')
const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')
const QUIET = ['--no-mdns', '--no-sweep']
const CODE = '161-8033-9887'

interface Run { status: number | null, stdout: string, stderr: string }

/** Runs ferry to its end (killed after `ms`: a run that should have refused at once but waits fails). */
async function ferry (args: string[], ms = 20_000): Promise<Run> {
  const child = spawn(process.execPath, [FERRY, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), ms)
  const status = await new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  clearTimeout(timer)
  return { status, stdout, stderr }
}

const dir = tempDir()
const store = join(dir, 'old')

beforeAll(async () => {
  expect((await ferry(['import', FIXTURE, '--store', store])).status).toBe(0)
}, 60_000)

afterAll(() => cleanupTempDirs())

describe('--listen an address that cannot be listened on', () => {
  let taken: Server
  beforeAll(async () => {
    taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
  })
  afterAll(() => { taken.close() })

  it('a taken port: says which and what to do, exit 2, no stack', async () => {
    const port = (taken.address() as AddressInfo).port
    const r = await ferry(['send', '--store', store, '--listen', `/ip4/127.0.0.1/tcp/${port}`, ...QUIET])
    expect(r.stderr).toBe(`ferry: cannot listen on 127.0.0.1:${port}: the port is taken (use tcp/0 for any free port) [BAD_INPUT]\n`)
    expect(r.status).toBe(2)
  })

  it('an address this machine does not have: says so, exit 2', async () => {
    const r = await ferry(['send', '--store', store, '--listen', '/ip4/192.0.2.1/tcp/0', ...QUIET])
    expect(r.stderr).toBe('ferry: cannot listen on 192.0.2.1: this machine has no such address (listen on one of its own, or on 0.0.0.0) [BAD_INPUT]\n')
    expect(r.status).toBe(2)
  })
})

describe('a selection that names a chat this phone does not hold, or holds no message', () => {
  const HELD = "it holds c1, cｚ, c😀, empty, g-family"

  it('send refuses before showing a code, naming the unknown chats and the ones it holds', async () => {
    const r = await ferry(['send', '--store', store, '--chats', 'nosuch', '--listen', '/ip4/127.0.0.1/tcp/0', ...QUIET])
    expect(r.stderr).toBe(`ferry: this phone holds no conversation 'nosuch' (${HELD}) [BAD_INPUT]\n`)
    expect(r.status).toBe(2)
    const mixed = await ferry(['send', '--store', store, '--chats', 'c1,nosuch', '--json', '--listen', '/ip4/127.0.0.1/tcp/0', ...QUIET])
    expect(mixed.stderr).toBe(`ferry: this phone holds no conversation 'nosuch' (${HELD}) [BAD_INPUT]\n`)
    expect(mixed.stdout).not.toMatch(/"event":"code"/)
    expect(mixed.status).toBe(2)
  })

  it('backup refuses unknown chats, alone or among known ones, and writes no file', async () => {
    const out = join(dir, 'sel.ferrybak')
    const r = await ferry(['backup', '--store', store, '--out', out, '--no-password', '--chats', 'c1,nosuch,other'])
    expect(r.stderr).toBe(`ferry: this phone holds no conversation 'nosuch', 'other' (${HELD}) [BAD_INPUT]\n`)
    expect(r.status).toBe(2)
    expect(existsSync(out)).toBe(false)
  })

  it('send and backup refuse a selection that holds no message, before a code or a file', async () => {
    const s = await ferry(['send', '--store', store, '--since', '2030-01-01T00:00Z', '--json', '--listen', '/ip4/127.0.0.1/tcp/0', ...QUIET])
    expect(s.stderr).toBe('ferry: no message on this phone is in the selection (every chat from 2030-01-01T00:00:00.000Z): nothing to send [BAD_INPUT]\n')
    expect(s.stdout).not.toMatch(/"event":"code"/)
    expect(s.status).toBe(2)
    const out = join(dir, 'empty.ferrybak')
    const b = await ferry(['backup', '--store', store, '--out', out, '--no-password', '--chats', 'empty'])
    expect(b.stderr).toBe('ferry: no message on this phone is in the selection (chats empty): nothing to back up [BAD_INPUT]\n')
    expect(b.status).toBe(2)
    expect(existsSync(out)).toBe(false)
  })
})

describe('receive --chats naming a chat the old phone does not send', () => {
  afterEach(async () => { await killAll() })

  it('receives the chats in common and names the ones that did not come', async () => {
    const sender = startSender(store, { code: CODE, extra: ['--no-sweep'] })
    const ready = await senderReady(sender)
    const target = join(dir, 'new')
    const r = await ferry(['receive', '--store', target, '--code', CODE, '--peer', ready.addr, '--chats', 'c1,nosuch', '--timeout', '20', ...QUIET, '--listen', '/ip4/127.0.0.1/tcp/0'], 45_000)
    expect(r.stderr).toMatch(/\nwarning: the old phone does not send 'nosuch': it holds no such chat, or does not offer it\n/)
    expect(r.stderr).toMatch(/Verified: 7 messages/)
    expect(r.status).toBe(0)
    expect((await sender.waitExit(20_000)).code).toBe(0)
  })
})

describe('receive with bad usage', () => {
  afterEach(async () => { await killAll() })

  it('refuses before it creates the store: nothing is left behind', async () => {
    const target = join(dir, 'never')
    const transport = await ferry(['receive', '--store', target, '--transport', 'udp', '--code', CODE, '--peer', '/ip4/127.0.0.1/tcp/9', ...QUIET])
    expect(transport.stderr).toBe("ferry: --transport wants one of tcp, webrtc, auto, got 'udp' [BAD_INPUT]\n")
    expect(transport.status).toBe(2)
    const nowhere = await ferry(['receive', '--store', target, '--code', CODE, ...QUIET])
    expect(nowhere.stderr).toBe("ferry: with --no-mdns and --no-sweep the old phone's address is needed: --peer MULTIADDR or --qr PAYLOAD [BAD_INPUT]\n")
    expect(nowhere.status).toBe(2)
    const noCode = await ferry(['receive', '--store', target, '--peer', '/ip4/127.0.0.1/tcp/9', ...QUIET])
    expect(noCode.stderr).toMatch(/^ferry: no pairing code: pass --code/)
    expect(noCode.status).toBe(2)
    expect(existsSync(target)).toBe(false)
  })

  it('a QR code with mDNS left on, where the LAN guard forbids it, is refused naming --no-mdns, and no store is made', async () => {
    const ready = await senderReady(startSender(store, { code: '414-2135-6237' }))
    const target = join(dir, 'guarded')
    const r = await ferry(['receive', '--store', target, '--qr', ready.qr, '--listen', '/ip4/127.0.0.1/tcp/0'])
    expect(r.stderr).toBe('ferry: looking for the old phone on the local network (mDNS) is only allowed inside a network namespace here ' +
      '(FERRY_MDNS_NETNS_ONLY=1): the old phone\'s address is given, so add --no-mdns, or run in a namespace [BAD_INPUT]\n')
    expect(r.status).toBe(2)
    expect(existsSync(target)).toBe(false)
  })
})

describe('receive from an address that refuses the connection', () => {
  it('says once that it cannot reach the old phone, not that a link was interrupted', async () => {
    const closed = createServer()
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise(resolve => closed.close(resolve))
    const peer = `/ip4/127.0.0.1/tcp/${port}/p2p/12D3KooWDRgaVgAMmzPJKSGxmhEERwbkQhzMUeffETvnszrzrYCY`
    const r = await ferry(['receive', '--store', join(dir, 'unreached'), '--code', CODE, '--peer', peer, '--timeout', '4', ...QUIET, '--listen', '/ip4/127.0.0.1/tcp/0'])
    expect(r.stderr).not.toMatch(/link to the old phone dropped/)
    expect(r.stderr.match(/^cannot reach the other phone \(the old phone at 127\.0\.0\.1 refused the connection: is 'ferry send' still running there\?\); retrying\.\.\.$/gm)).toHaveLength(1)
    expect(r.status).toBe(1)
  })
})

describe('numeric flags', () => {
  it('a negative number or a zero timeout gets the flag\'s own message, not parseArgs\' "ambiguous"', async () => {
    for (const [cmd, v] of [['send', '-1'], ['send', '0'], ['receive', '-1'], ['receive', '0']]) {
      const r = await ferry([cmd, '--store', join(dir, cmd === 'send' ? 'old' : 'never'), '--timeout', v, ...QUIET])
      expect(r.stderr).toBe(`ferry: --timeout must be a whole number of seconds, from 1 to 2147483; got '${v}' [BAD_INPUT]\n`)
      expect(r.status).toBe(2)
    }
    const seed = await ferry(['seed', '--store', join(dir, 'never'), '--profile', 'tiny', '--seed', '-1'])
    expect(seed.stderr).toBe("ferry: --seed must be a whole number, 0 or more; got '-1' [BAD_INPUT]\n")
    expect(seed.status).toBe(2)
    expect(existsSync(join(dir, 'never'))).toBe(false)
  })

  it('a flag followed by another flag is still told it lacks its value', async () => {
    const r = await ferry(['send', '--store', '--json'])
    expect(r.stderr).toMatch(/^ferry: --store needs a value, like --store DIR: '--json' after it is another option\n/)
    expect(r.status).toBe(2)
  })
})
