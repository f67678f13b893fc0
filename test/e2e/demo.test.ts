import { describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { FERRY_BIN } from '../../src/cli/ferry-process.js'
import { checkNetnsSupport } from '../../scripts/lib/netns.js'

// `npm run demo` is the README's main job: two phones, real processes, a code, a verified summary.
describe('ferry demo', () => {
  it('moves a history between two phones on a simulated Wi-Fi (or loopback) and cleans up after itself', async () => {
    const support = await checkNetnsSupport()
    if (!support.ok) console.log(`demo runs on loopback: ${support.reason}`)
    const r = spawnSync(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny'], { encoding: 'utf8', timeout: 120_000 })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/Verified on the new phone: 300 messages/)
    if (support.ok) {
      // Through mDNS across two namespaces, and nothing left behind.
      expect(r.stderr).toMatch(/found the old phone by mDNS in \d+ ms/)
      const id = /bridged in namespaces (\S+)-\*/.exec(r.stderr)?.[1]
      expect(id).toBeDefined()
      expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(id)
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

  it('falls back to loopback with the QR payload when asked', () => {
    const r = spawnSync(process.execPath, [FERRY_BIN, 'demo', '--profile', 'tiny', '--loopback'], { encoding: 'utf8', timeout: 120_000 })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/mDNS off, the QR payload handed over/)
    expect(r.stderr).toMatch(/Verified on the new phone: 300 messages/)
  })
})
