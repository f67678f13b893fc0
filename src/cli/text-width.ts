/**
 * How many terminal cells a string takes, and padding and truncating by that, for the CLI's tables.
 * Chat titles come in any script: padding by String.length (UTF-16 code units) misaligns a column as soon
 * as one holds CJK (two cells a character), emoji (several code points in two cells) or combining marks
 * (none). Widths follow what terminals draw: wcwidth for each code point, and two cells for an emoji
 * cluster that is shown as emoji (a ZWJ family, a flag, a skin tone, a character with VS16). Ambiguous-
 * width characters count as one cell, as they do outside CJK locales.
 */

import { printable } from '../printable.js'

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

// East Asian Wide and Fullwidth (UAX #11) outside the emoji, which EMOJI_STYLE catches: JS regexps have
// no \p{East_Asian_Width}. Hangul Jamo initials, CJK radicals and punctuation, Hiragana, Katakana,
// Bopomofo, enclosed CJK, ideographs (and their extensions), Yi, Hangul syllables, compatibility
// ideographs, vertical and small forms, fullwidth forms, Tangut, Khitan, Kana supplements, enclosed
// ideographic supplement.
const WIDE = /[\u1100-\u115F\u2329\u232A\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uA960-\uA97F\uAC00-\uD7A3\uF900-\uFAFF\uFE10-\uFE19\uFE30-\uFE6F\uFF00-\uFF60\uFFE0-\uFFE6\u{16FE0}-\u{16FE4}\u{17000}-\u{18CFF}\u{1B000}-\u{1B2FF}\u{1F200}-\u{1F2FF}\u{20000}-\u{2FFFD}\u{30000}-\u{3FFFD}]/u
// Drawn on the cell before: combining marks, format characters (ZWJ, direction marks), variation
// selectors, and the medial and final Hangul jamo that join an initial.
const ZERO = /[\p{Mn}\p{Me}\p{Cf}\p{Cc}\u1160-\u11FF\uD7B0-\uD7FF]/u
const EMOJI_STYLE = /^\p{Emoji_Presentation}/u
const EMOJI = /^\p{Emoji}/u
const REGIONAL = /^\p{Regional_Indicator}/u

function clusterWidth (g: string): number {
  if (REGIONAL.test(g)) return g.length > 2 ? 2 : 1 // a flag is two indicators; a lone one draws as a letter
  if (!g.includes('\uFE0E') && (EMOJI_STYLE.test(g) || (g.includes('\uFE0F') && EMOJI.test(g)))) return 2
  let w = 0
  for (const ch of g) w += ZERO.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1
  return w
}

/** Terminal cells `s` takes. */
export function displayWidth (s: string): number {
  let w = 0
  for (const { segment } of graphemes.segment(s)) w += clusterWidth(segment)
  return w
}

/** `s` with spaces after it up to `width` cells (as it is when it is wider). */
export function padEndTo (s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)))
}

/** `s` with spaces before it up to `width` cells. */
export function padStartTo (s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - displayWidth(s))) + s
}

/** `s` cut to at most `width` cells, whole graphemes only, an ellipsis saying it was cut. */
export function truncateTo (s: string, width: number, ellipsis = '…'): string {
  if (displayWidth(s) <= width) return s
  const room = width - displayWidth(ellipsis)
  if (room < 0) return ''
  let out = ''
  let w = 0
  for (const { segment } of graphemes.segment(s)) {
    const cw = clusterWidth(segment)
    if (w + cw > room) break
    out += segment
    w += cw
  }
  return out + ellipsis
}

// Strong right-to-left scripts: Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic and their
// presentation forms, Adlam.
const RTL = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF\u{1E900}-\u{1E95F}]/u

/**
 * A table cell of `width` cells: `s` printable, cut to fit with an ellipsis, padded. Right-to-left text
 * ends with a left-to-right mark (no width), so that a terminal laying out bidirectional text does not
 * pull the padding and the next column's digits into its run, which would reorder the row.
 */
export function cell (s: string, width: number): string {
  const text = truncateTo(printable(s), width)
  return padEndTo(RTL.test(text) ? text + '\u200E' : text, width)
}
