// Every --help fits a terminal of 100 columns: a wider line wraps wherever the terminal cuts it, in the
// middle of a word or an option's column, and the help reads as a jumble.
import { describe, expect, it } from 'vitest'
import { ferry } from '../helpers/ferry-sync.js'

const WIDTH = 100

/** The commands `ferry --help` lists. */
function commands (): string[] {
  const r = ferry('--help')
  expect(r.status).toBe(0)
  const listed = r.stdout.split('\n\nCommands:\n')[1].split('\n\n')[0]
  return listed.split('\n').map(l => l.trim().split(/\s+/)[0])
}

/** The lines of a help text wider than WIDTH columns (each character one column: the help is ASCII-wide). */
function wide (text: string): string[] {
  return text.split('\n').filter(l => [...l].length > WIDTH)
}

describe('ferry --help', () => {
  it(`has no line wider than ${WIDTH} columns`, () => {
    expect(wide(ferry('--help').stdout)).toEqual([])
  })

  it.each(commands())(`ferry %s --help has no line wider than ${WIDTH} columns`, name => {
    const r = ferry(name, '--help')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^Usage: ferry /)
    expect(wide(r.stdout)).toEqual([])
  })
})
