import { displayWidth } from './text-width.js'

// Help texts are written as paragraphs, lists and option tables; a line past the terminal's edge wraps
// wherever the terminal cuts it, mid-word or across the option column. Each help is filled to HELP_WIDTH
// as it is printed, so a sentence added to one stays within it without rewrapping its paragraph by hand.

/** The widest a help line may be: a terminal a little wider than the classic 80 columns. */
export const HELP_WIDTH = 100

/** A run of lines that wrap together: the first line's lead (indent, bullet, option name), then words. */
interface Block {
  lead: string
  hang: number
  lines: string[]
}

/**
 * Where a line's words continue when it wraps: under the text after its last gap of two spaces or more
 * (an option's or an example's description), after a list bullet, or at its own indent.
 */
function hangOf (line: string): number {
  const indent = line.length - line.trimStart().length
  if (/^\s*Usage: ferry \S+ /.test(line)) return /^\s*Usage: ferry \S+ /.exec(line)?.[0].length ?? indent
  if (/^\s*- /.test(line)) return indent + 2
  if (indent >= 2) {
    const gap = /^(\s+\S.*?\S? {2,})\S/.exec(line)
    if (gap !== null) {
      let last = gap[1].length
      for (const m of line.slice(last).matchAll(/ {2,}(?=\S)/g)) last += (m.index ?? 0) + m[0].length
      return last
    }
  }
  return indent
}

function blocks (text: string): Block[] {
  const out: Block[] = []
  for (const line of text.split('\n')) {
    const prev = out.at(-1)
    const indent = line.length - line.trimStart().length
    // A line goes on the block before it when it starts where that block's words continue, as a
    // wrapped line of it would: a paragraph's next line, an option's or a bullet's. Indented lines that
    // hang nowhere (examples) are each their own.
    const first = prev?.lines[0] ?? ''
    const hangs = prev !== undefined && (prev.hang === 0 || prev.hang !== first.length - first.trimStart().length)
    const continues = prev !== undefined && hangs && line.trim() !== '' && first.trim() !== '' && indent === prev.hang
    if (continues) prev.lines.push(line)
    else out.push({ lead: line.slice(0, hangOf(line)), hang: hangOf(line), lines: [line] })
  }
  return out
}

/** A number's unit stays on the number's line ("12 s", "512 MiB"): a line that began "s (or" reads as nonsense. */
const UNIT = /^(s|ms|min|h|B|kB|KiB|MB|MiB|GB|GiB|%)[.,;:)]*$/

function unitsKept (words: string[]): string[] {
  const out: string[] = []
  for (const w of words) {
    const prev = out.at(-1)
    if (prev !== undefined && /\d$/.test(prev) && UNIT.test(w)) out[out.length - 1] = `${prev} ${w}`
    else out.push(w)
  }
  return out
}

/** Fills a block's words to `width`, its later lines at its hang; left as written when it fits. */
function fill (b: Block, width: number): string[] {
  if (b.lines.every(l => displayWidth(l) <= width)) return b.lines
  const words = unitsKept([b.lines[0].slice(b.hang), ...b.lines.slice(1)].join(' ').trim().split(/ +/))
  const out: string[] = []
  let line = b.lead
  let fresh = true
  for (const w of words) {
    if (!fresh && displayWidth(line) + 1 + displayWidth(w) > width) {
      out.push(line)
      line = ' '.repeat(b.hang) + w
    } else {
      line += (fresh || line.endsWith(' ') ? '' : ' ') + w
    }
    fresh = false
  }
  out.push(line)
  return out
}

/** A help text with every line at most `width` columns wide (a single word wider than that stays whole). */
export function wrapHelp (text: string, width = HELP_WIDTH): string {
  return blocks(text).flatMap(b => fill(b, width)).join('\n')
}
