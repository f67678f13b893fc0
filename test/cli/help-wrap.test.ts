import { describe, expect, it } from 'vitest'
import { wrapHelp } from '../../src/cli/help-wrap.js'

describe('a help paragraph filled to the width', () => {
  it('keeps each line within it and a number with its unit', () => {
    const text = 'only when no other phone shows them within 12 s (or --timeout) does the run end, and a chat is held whole up to 512 MiB.'
    for (let width = 30; width <= 60; width++) {
      const lines = wrapHelp(text, width).split('\n')
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(width)
      expect(lines.some(l => /^(s|MiB)\b/.test(l)), lines.join('\n')).toBe(false)
      expect(lines.join(' ')).toBe(text)
    }
  })
})
