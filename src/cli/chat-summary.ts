import { printable } from '../printable.js'
import { cell, displayWidth } from './text-width.js'

/** Widest a title's column gets: a longer title is cut (with an ellipsis), so that rows stay one line each. */
const TITLE_CELLS = 40

/** The per-chat lines a receive or a restore ends with: each chat's title and its messages, in columns. */
export function chatSummaryLines (summary: ReadonlyArray<{ title: string, messages: number }>): string[] {
  const width = Math.min(TITLE_CELLS, Math.max(12, ...summary.map(s => displayWidth(printable(s.title)))))
  return summary.map(s => `  ${cell(s.title, width)}  ${String(s.messages).padStart(7)} messages`)
}
