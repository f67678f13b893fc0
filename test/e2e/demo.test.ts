import { describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FERRY_BIN } from '../../src/cli/ferry-process.js'
import { checkNetnsSupport } from '../../scripts/lib/netns.js'
import { cannotRun } from '../helpers/cannot-run.js'

// `npm run demo` is the README's main job: two phones, real processes, a code, a verified summary.
describe('ferry demo', () => {
  it('moves a history between two phones on a simulated Wi-Fi (or loopback) and cleans up after itself', async () => {
    // Where namespaces cannot be made the demo falls back to loopback: what it does then is checked
    // instead, except under CI=true, where the namespace demo must run.
    const support = await checkNetnsSupport()
    const onLoopback = cannotRun('the demo across network namespaces (it is checked on loopback instead)', support.ok ? undefined : support.reason ?? 'unknown')
    const r = spawnSync(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny'], { encoding: 'utf8', timeout: 120_000 })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/Verified on the new phone: 300 messages/)
    if (!onLoopback) {
      // Through mDNS across two namespaces, and nothing left behind.
      expect(r.stderr).toMatch(/found the old phone by mDNS in \d+ ms/)
      const id = /bridged in namespaces (ferry-\S+)-\*/.exec(r.stderr)?.[1]
      expect(id, r.stderr).toMatch(/^ferry-/)
      expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(`${id}-`)
    } else {
      expect(r.stderr).toMatch(/QR payload handed over/)
    }
  })

  it('shows the sweep: with multicast dropped the new phone finds the old one on its subnet', async () => {
    const support = await checkNetnsSupport()
    const r = spawnSync(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny', '--no-multicast'], { encoding: 'utf8', timeout: 120_000 })
    if (!support.ok) {
      expect(r.status).toBe(2)
      expect(r.stderr).toMatch(/--no-multicast needs the simulated Wi-Fi/)
      return
    }
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/found the old phone by sweeping the subnet \(at 10\.\d+\.\d+\.11\) in \d+ ms/)
    expect(r.stderr).toMatch(/Verified on the new phone: 300 messages/)
  })

  it('--web: a browser with nothing installed opens the old phone\'s link in the other namespace and receives', async () => {
    const support = await checkNetnsSupport()
    const skip = cannotRun('the web demo (namespaces and Chromium)', support.ok ? (existsSync('/usr/bin/chromium') ? undefined : 'no /usr/bin/chromium') : support.reason ?? 'unknown')
    const dir = mkdtempSync(join(tmpdir(), 'ferry-demo-web-'))
    const shot = join(dir, 'page.png')
    try {
      const r = spawnSync(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny', '--web', '--screenshot', shot], { encoding: 'utf8', timeout: 120_000 })
      if (skip) {
        expect(r.status).toBe(2)
        expect(r.stderr).toMatch(/--web needs the simulated Wi-Fi and Chromium/)
        return
      }
      expect(r.status, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/shows one QR code: http:\/\/10\.\d+\.\d+\.11:\d+\/#ferry:\/\/pair\?/)
      expect(r.stderr).toMatch(/insecure context: true/)
      expect(r.stderr).toMatch(/Verified in the browser: 300 messages/)
      expect(r.stderr).toMatch(/The page's export equals the old phone's: \d+ lines/)
      expect(r.stderr).toMatch(/stopped serving the page with the offer \(connection ECONNREFUSED\)/)
      // A PNG of the page, and nothing left of the namespaces.
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG')
      const id = /bridged in namespaces (ferry-\S+)-\*/.exec(r.stderr)?.[1]
      expect(id, r.stderr).toMatch(/^ferry-/)
      expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(`${id}-`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('falls back to loopback with the QR payload when asked', () => {
    const r = spawnSync(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny', '--loopback'], { encoding: 'utf8', timeout: 120_000 })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/mDNS off, the QR payload handed over/)
    expect(r.stderr).toMatch(/Verified on the new phone: 300 messages/)
  })

  it('says what is missing for the simulated Wi-Fi, installs nothing, and moves the history on loopback', () => {
    // PATH holds a shell and an apt-get that only notes it was run, and no 'ip'.
    const bin = mkdtempSync(join(tmpdir(), 'ferry-demo-path-'))
    const ranAptGet = join(bin, 'apt-get-ran')
    try {
      symlinkSync('/bin/sh', join(bin, 'sh'))
      writeFileSync(join(bin, 'apt-get'), `#!/bin/sh\necho "$@" >> ${ranAptGet}\nexit 1\n`, { mode: 0o755 })
      const r = spawnSync(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH: bin } })
      expect(r.status, r.stderr).toBe(0)
      expect(existsSync(ranAptGet), 'the demo ran apt-get').toBe(false)
      expect(r.stderr).toContain("No network namespaces here (the 'ip' command (iproute2) is not installed)")
      expect(r.stderr).toMatch(/Verified on the new phone: 300 messages/)
    } finally {
      rmSync(bin, { recursive: true, force: true })
    }
  })
})
