// Chat titles come in every script; the CLI's tables line up only if each cell is measured in the
// cells a terminal draws, not in UTF-16 code units.
import { describe, expect, it } from 'vitest'
import { printable } from '../../src/printable.js'
import { cell, displayWidth, padEndTo, padStartTo, truncateTo } from '../../src/cli/text-width.js'

const FAMILY = '👨\u200D👩\u200D👧\u200D👦'

describe('display width', () => {
  it('counts CJK, Hangul, kana and fullwidth forms as two cells each', () => {
    expect(displayWidth('家族')).toBe(4)
    expect(displayWidth('こんにちは')).toBe(10)
    expect(displayWidth('カタカナ')).toBe(8)
    expect(displayWidth('한국어')).toBe(6)
    expect(displayWidth('ＡＢＣ')).toBe(6)
    expect(displayWidth('Team 会議 2024')).toBe(14)
    // Hangul spelled as jamo: an initial, a vowel and a final make one two-cell syllable.
    expect(displayWidth('\u1112\u1161\u11AB')).toBe(2)
  })

  it('counts an emoji as two cells however many code points make it', () => {
    expect(displayWidth(FAMILY)).toBe(2)
    expect(displayWidth('🇩🇪')).toBe(2)
    expect(displayWidth('🇩🇪🇫🇷')).toBe(4)
    expect(displayWidth('👍🏽')).toBe(2)
    expect(displayWidth('❤\uFE0F')).toBe(2)
    expect(displayWidth('1\uFE0F\u20E3')).toBe(2)
    expect(displayWidth('ok 👌')).toBe(5)
    // Without VS16 a heart is text, one cell, as terminals draw it.
    expect(displayWidth('❤')).toBe(1)
  })

  it('gives combining marks, joiners and direction marks no cells', () => {
    expect(displayWidth('e\u0301')).toBe(1)
    expect(displayWidth('Zoe\u0308 Ame\u0301lie')).toBe(10)
    expect(displayWidth('a\u200Bb')).toBe(2)
    expect(displayWidth('\u200Fعائلة')).toBe(5)
    // Devanagari: the virama and vowel signs join the consonants' cells.
    expect(displayWidth('नमस्ते')).toBe(4)
  })

  it('counts Arabic, Persian and Hebrew letters one cell each, their vowel marks none', () => {
    expect(displayWidth('عائلة')).toBe(5)
    expect(displayWidth('مُحَمَّد')).toBe(4)
    expect(displayWidth('خانواده')).toBe(7)
    expect(displayWidth('שָׁלוֹם')).toBe(4)
  })
})

describe('padding and truncating to a width', () => {
  it('pads to the same number of cells whatever the script', () => {
    for (const s of ['abc', '家族', FAMILY, '🇩🇪', 'e\u0301', 'عائلة', 'ＡＢ']) {
      expect(displayWidth(padEndTo(s, 8))).toBe(8)
      expect(displayWidth(padStartTo(s, 8))).toBe(8)
    }
    expect(padEndTo('家族', 6)).toBe('家族  ')
  })

  it('cuts whole graphemes only and says it cut', () => {
    expect(truncateTo('家族 群組', 5)).toBe('家族…')
    expect(truncateTo('家族 群組', 4)).toBe('家…')
    expect(truncateTo(`ab${FAMILY}cd`, 4)).toBe('ab…')
    expect(truncateTo(`ab${FAMILY}cd`, 5)).toBe(`ab${FAMILY}…`)
    expect(truncateTo('🇩🇪🇫🇷🇮🇹', 5)).toBe('🇩🇪🇫🇷…')
    expect(truncateTo('e\u0301e\u0301e\u0301e\u0301', 3)).toBe('e\u0301e\u0301…')
    expect(truncateTo('عائلة كبيرة', 6)).toBe('عائلة…')
    expect(truncateTo('short', 8)).toBe('short')
  })

  it('never makes a cut string wider than asked', () => {
    const titles = ['家族 👨‍👩‍👧 عائلة', `${FAMILY}${FAMILY}${FAMILY}`, '🇩🇪🇫🇷🇮🇹🇯🇵', 'Ｏｌｄ friend', 'Zoe\u0308 and Ame\u0301lie']
    for (const s of titles) {
      for (let w = 1; w <= 12; w++) expect(displayWidth(truncateTo(s, w)), `${s} in ${w}`).toBeLessThanOrEqual(w)
    }
  })
})

describe('a table cell', () => {
  it('shows newlines, tabs, control and direction-override characters escaped, on one line', () => {
    expect(printable('line one\nline two\ttab\r\u0007\u007F\u0085')).toBe('line one\\nline two\\ttab\\r\\u0007\\u007f\\u0085')
    expect(printable('abc\u202Eevil\u2066x\u2069\u2028')).toBe('abc\\u202eevil\\u2066x\\u2069\\u2028')
    expect(cell('a\nb', 6)).toBe('a\\nb  ')
  })

  it('is exactly as wide as asked, cut or padded', () => {
    for (const s of ['家族 👨‍👩‍👧 عائلة', FAMILY, 'x', '', 'Zoe\u0308', 'two\nlines', 'חברים מהעבודה']) {
      for (const w of [4, 10, 24]) expect(displayWidth(cell(s, w)), `${JSON.stringify(s)} in ${w}`).toBe(w)
    }
  })

  it('ends right-to-left text with a left-to-right mark, so the next column stays where it is', () => {
    expect(cell('عائلة', 7)).toBe('عائلة\u200E  ')
    expect(cell('family', 7)).toBe('family ')
  })
})
