import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI_DIR, latin1Source } from '../../scripts/build/cli.js'

const run = (code: string): unknown => new Function(code)()

describe('the CLI bundle', () => {
  it('is Latin-1 text (so V8 holds its source in one byte per character), as built for the tests', () => {
    const files = readdirSync(CLI_DIR).filter(f => f.endsWith('.js'))
    const texts = files.map(f => readFileSync(join(CLI_DIR, f), 'utf8'))
    expect(texts.reduce((n, t) => n + t.length, 0)).toBeGreaterThan(1_000_000)
    for (const [i, text] of texts.entries()) expect(text.match(/[^\u0000-\u00ff]/), files[i]).toBeNull()
  })

  it('escapes what lies beyond Latin-1 so that code means the same', () => {
    const code = 'const π = "a−b ⋅ é"; /* 44⋅32 — ∋ */ return [π, /−+/.test("x−−y"), `⋅${π.length}`]'
    const escaped = latin1Source(code)
    expect(escaped.match(/[^\u0000-\u00ff]/)).toBeNull()
    expect(escaped).toContain('é') // Latin-1 is kept as it is
    expect(run(escaped)).toEqual(run(code))
    expect(run(escaped)).toEqual(['a−b ⋅ é', true, '⋅7'])
  })
})
