// The error line a person reads may hold what someone else chose: a path, a chat's id, the other phone's
// words. It must reach the terminal as text, never as escape sequences that move the cursor and draw
// over what Ferry printed; the line breaks Ferry's own messages have stay.
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { ferry } from '../helpers/ferry-sync.js'

describe('ferry\'s error line', () => {
  it('shows control characters in what it names escaped', () => {
    const dir = join(tmpdir(), `no-such-store-\u001b[2K\u001b[1A-${process.pid}`)
    const r = ferry('inspect', '--store', dir)
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('no-such-store-\\u001b[2K\\u001b[1A-')
    expect(r.stderr).not.toContain('\u001b')
  })

  it('keeps the line breaks of its own messages', () => {
    const r = ferry('receive')
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^ferry: missing --store\nRun 'ferry receive --help' for usage\. \[BAD_INPUT\]\n$/)
  })
})
