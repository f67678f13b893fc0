import { describe, expect, it, vi } from 'vitest'
import { ErrorCode, FerryError } from '../../src/errors.js'
import { eventPrinter } from '../../src/cli/phone.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'

// What `ferry receive` says as it looks past a phone the search found (net/receiving.ts): a script
// reading --json tells a cut from a refusal or an unreachable phone, and a person reads why.

function printed (json: boolean, ...events: FerryEvent[]): { stdout: string, stderr: string } {
  let stdout = ''
  let stderr = ''
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { stdout += String(s); return true })
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { stderr += String(s); return true })
  try {
    const printer = eventPrinter(json, 'receiving', 'the old phone')
    for (const e of events) printer.onEvent(e)
    printer.stop()
  } finally {
    out.mockRestore()
    err.mockRestore()
  }
  return { stdout, stderr }
}

const interrupted = (error: FerryError): FerryEvent => ({ type: 'interrupted', at: 1_000, error })

describe('ferry receive\'s interrupted events while it looks past a phone', () => {
  it('--json says a cut is one, and how many the phone made', () => {
    const cut = new FerryError(ErrorCode.TRUNCATED, 'a phone showing this code\'s first three digits dropped the link 3 times ...',
      { unproved: true, cut: true, cuts: 3, timedOut: false })
    expect(JSON.parse(printed(true, interrupted(cut)).stdout)).toEqual({
      event: 'interrupted', at: 1_000, code: 'TRUNCATED', message: cut.message, unproved: true, cut: true, cuts: 3
    })
  })

  it('--json says a phone that could not be reached is one; a person reads the words as they are', () => {
    const isolated = new FerryError(ErrorCode.ISOLATED, 'a phone showing this code\'s first three digits cannot be reached: ... this Wi-Fi seems to keep devices apart ...',
      { via: 'sweep', unreachable: true })
    expect(JSON.parse(printed(true, interrupted(isolated)).stdout)).toEqual({
      event: 'interrupted', at: 1_000, code: 'ISOLATED', message: isolated.message, unreachable: true
    })
    expect(printed(false, interrupted(isolated)).stderr).toBe(`${isolated.message}\n`)
  })
})

describe('ferry receive\'s interrupted event when it ends a session to fetch a file whole', () => {
  it('a person reads why in words, not that the link dropped', () => {
    const fetchAgain = new FerryError(ErrorCode.TRUNCATED, 'media file ab12 did not match its checksum once complete: ... Nothing that arrived is taken back: ...',
      { sha256: 'ab12', fetchAgain: true })
    const paired: FerryEvent = { type: 'paired', at: 500, peer: 'the old phone', mode: 'resume' }
    const { stderr } = printed(false, paired, interrupted(fetchAgain))
    expect(stderr).toContain(`${fetchAgain.message}\n`)
    expect(stderr).not.toContain('dropped')
  })
})
