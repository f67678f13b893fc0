// The test set-up step's decisions (scripts/lib/test-tools.ts): which tools are missing, whether it
// may install them, and whether what is left is a failure (CI=true) or a warning. The machine's tools
// stay as they are: presence and apt-get are stand-ins here; onPath is checked against real files.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { decide, onPath, setUpTools, TOOLS, type Host, type Tool } from '../../scripts/lib/test-tools.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

afterAll(() => { cleanupTempDirs() })

const tool = (command: string): Tool => {
  const t = TOOLS.find(x => x.command === command)
  if (t === undefined) throw new Error(`no tool ${command} in TOOLS`)
  return t
}
const ROOT_CI: Host = { platform: 'linux', root: true, aptGet: true, ci: true }

/** setUpTools on a machine where `missing` are absent until apt-get installs their packages. */
async function run (host: Host, missing: string[], apt: { fails?: string, installs?: boolean } = {}): Promise<{ code: number, said: string, aptCalls: string[][] }> {
  const absent = new Set(missing)
  const aptCalls: string[][] = []
  const said: string[] = []
  const code = await setUpTools({
    host,
    present: t => !absent.has(t.command),
    aptGet: async args => {
      aptCalls.push(args)
      if (apt.fails !== undefined) throw new Error(apt.fails)
      if (args[0] === 'install' && apt.installs !== false) {
        for (const t of TOOLS) if (args.includes(t.pkg)) absent.delete(t.command)
      }
    },
    say: l => said.push(l)
  })
  return { code, said: said.join('\n'), aptCalls }
}

describe('the test set-up step', () => {
  it('does nothing when every tool is here', async () => {
    const r = await run(ROOT_CI, [])
    expect(r).toMatchObject({ code: 0, aptCalls: [] })
    expect(r.said).toMatch(/system tools present \(ip, tc, iptables/)
  })

  it('as root with apt-get: updates, installs each missing package once, and carries on', async () => {
    const r = await run(ROOT_CI, ['ip', 'tc', 'iptables', '/usr/bin/chromium'])
    expect(r.code).toBe(0)
    expect(r.aptCalls).toEqual([['update'], ['install', '-y', '--no-install-recommends', 'iproute2', 'iptables', 'chromium']])
    expect(r.said).toMatch(/installing iproute2 iptables chromium with apt-get \(missing: ip, tc, iptables, \/usr\/bin\/chromium\)/)
  })

  it('a failed install fails the run under CI=true, naming the tool, its package and apt-get\'s error', async () => {
    const r = await run(ROOT_CI, ['iptables'], { fails: 'E: Unable to locate package iptables' })
    expect(r.code).toBe(1)
    expect(r.aptCalls).toHaveLength(1) // update failed: no install after it
    expect(r.said).toMatch(/FAILED/)
    expect(r.said).toContain('iptables (Debian package iptables), for the Wi-Fi testbed')
    expect(r.said).toContain('E: Unable to locate package iptables')
    expect(r.said).toMatch(/CI=true: every suite must run/)
  })

  it('a failed install is a warning without CI: the suites skip with their reasons', async () => {
    const r = await run({ ...ROOT_CI, ci: false }, ['fincore'], { fails: 'E: network down' })
    expect(r.code).toBe(0)
    expect(r.said).toMatch(/warning/)
    expect(r.said).toContain('fincore (Debian package util-linux-extra)')
    expect(r.said).toMatch(/skipped, each with its reason/)
  })

  it('an install that leaves the tool missing is not taken for success', async () => {
    const r = await run(ROOT_CI, ['mount'], { installs: false })
    expect(r.code).toBe(1)
    expect(r.aptCalls.length).toBe(2)
    expect(r.said).toMatch(/apt-get installed mount but mount is still not found on PATH/)
  })

  it('not root: installs nothing; under CI=true that is a failure even with every tool here', async () => {
    const notRoot = { ...ROOT_CI, root: false }
    const missing = await run(notRoot, ['ip'])
    expect(missing).toMatchObject({ code: 1, aptCalls: [] })
    expect(missing.said).toMatch(/CI=true needs root/)
    expect(missing.said).toContain('ip (Debian package iproute2)')
    const none = await run(notRoot, [])
    expect(none.code).toBe(1)
    expect(none.said).toMatch(/CI=true needs root: the namespace suites make network namespaces/)
  })

  it('not root on a developer\'s machine: says what is missing and how to install it, and carries on', async () => {
    const r = await run({ ...ROOT_CI, root: false, ci: false }, ['ip', 'tc', '/usr/bin/chromium'])
    expect(r).toMatchObject({ code: 0, aptCalls: [] })
    expect(r.said).toContain('sudo apt-get update && apt-get install --no-install-recommends iproute2 chromium')
    expect((await run({ ...ROOT_CI, root: false, ci: false }, [])).code).toBe(0)
  })

  it('without apt-get, or off Linux, it never tries to install', async () => {
    const noApt = await run({ ...ROOT_CI, aptGet: false }, ['iptables'])
    expect(noApt).toMatchObject({ code: 1, aptCalls: [] })
    expect(noApt.said).toMatch(/no apt-get here to install them; install the equivalent of: iptables/)
    const mac = await run({ ...ROOT_CI, platform: 'darwin' }, ['ip'])
    expect(mac).toMatchObject({ code: 1, aptCalls: [] })
    expect(mac.said).toMatch(/need Linux; this is darwin/)
    expect((await run({ ...ROOT_CI, platform: 'darwin', ci: false }, ['ip'])).code).toBe(0)
  })

  it('decides from the tools alone', () => {
    expect(decide([tool('ip'), tool('tc')], ROOT_CI)).toEqual({ kind: 'install', packages: ['iproute2'] })
    expect(decide([tool('ip')], ROOT_CI, 'boom')).toMatchObject({ kind: 'lacking', fatal: true })
    expect(decide([], { ...ROOT_CI, ci: false, root: false })).toEqual({ kind: 'ready' })
  })
})

describe('onPath', () => {
  it('finds an executable on PATH or at an absolute path, and nothing else', () => {
    const [a, b] = [join(tempDir(), 'a'), join(tempDir(), 'b')]
    mkdirSync(a)
    mkdirSync(b)
    writeFileSync(join(b, 'tool'), '#!/bin/sh\n')
    chmodSync(join(b, 'tool'), 0o755)
    writeFileSync(join(a, 'plain'), 'not executable')
    chmodSync(join(a, 'plain'), 0o644)
    const path = [a, b].join(delimiter)
    expect(onPath('tool', path)).toBe(true)
    expect(onPath(join(b, 'tool'), '')).toBe(true)
    expect(onPath('tool', a)).toBe(false)
    expect(onPath('plain', path)).toBe(false)
    expect(onPath('missing', path)).toBe(false)
    expect(onPath(join(b, 'missing'), path)).toBe(false)
  })
})
