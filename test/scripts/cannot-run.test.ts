// A suite that cannot run here: skipped with its reason on a developer's machine, a failure under
// CI=true (test/helpers/cannot-run.ts), so a green CI run means every suite ran.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { inCI } from '../../scripts/lib/ci.js'
import { cannotRun, SuiteCannotRunError } from '../helpers/cannot-run.js'

describe('cannotRun', () => {
  const ci = process.env.CI
  afterEach(() => {
    if (ci === undefined) delete process.env.CI
    else process.env.CI = ci
    vi.restoreAllMocks()
  })

  it('a suite that can run runs, with or without CI', () => {
    for (const v of ['true', '']) {
      process.env.CI = v
      expect(cannotRun('the Wi-Fi tests', undefined)).toBe(false)
    }
  })

  it('without CI: skips, printing what and why', () => {
    delete process.env.CI
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    expect(cannotRun('the Wi-Fi tests', 'needs root')).toBe(true)
    expect(warn.mock.calls).toEqual([['SKIP the Wi-Fi tests: needs root']])
  })

  it('under CI=true: fails with what and why instead of skipping', () => {
    process.env.CI = 'true'
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    expect(() => cannotRun('the Wi-Fi tests', 'needs root')).toThrow(SuiteCannotRunError)
    expect(() => cannotRun('the Wi-Fi tests', 'needs root')).toThrow('the Wi-Fi tests cannot run here, and CI=true requires every suite to run: needs root')
    expect(warn).not.toHaveBeenCalled()
  })

  it('CI is on when set to anything but empty, 0 or false', () => {
    expect(['true', '1', 'yes', 'TRUE'].map(v => inCI({ CI: v }))).toEqual([true, true, true, true])
    expect([undefined, '', ' ', '0', 'false', 'False'].map(v => inCI({ CI: v }))).toEqual([false, false, false, false, false, false])
  })
})
