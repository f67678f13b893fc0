import { afterEach, describe, expect, it, vi } from 'vitest'
import { reportError } from '../../src/cli/main.js'

// What a person sees when the CLI meets a failure Ferry has no words for: one line, not a stack.

function stderrOf (f: () => number): { code: number, text: string } {
  let text = ''
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { text += String(s); return true })
  try {
    return { code: f(), text }
  } finally {
    spy.mockRestore()
  }
}

afterEach(() => { vi.unstubAllEnvs() })

describe('reportError on an error that is not a FerryError', () => {
  it('prints one line saying how to see the details, and exits 1', () => {
    vi.stubEnv('DEBUG', '')
    vi.stubEnv('FERRY_TSX', '')
    const r = stderrOf(() => reportError(new TypeError('cannot read properties of undefined')))
    expect(r.text).toBe('ferry: unexpected error: cannot read properties of undefined (run with DEBUG=ferry for the details) [INTERNAL]\n')
    expect(r.code).toBe(1)
  })

  it('prints the stack with DEBUG=ferry', () => {
    vi.stubEnv('DEBUG', 'ferry:*')
    const r = stderrOf(() => reportError(new TypeError('boom')))
    expect(r.text).toMatch(/^ferry: TypeError: boom\n\s+at /)
    expect(r.code).toBe(1)
  })
})
