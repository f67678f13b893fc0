import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BUNDLE, latin1Source } from '../../bin/cli-bundle.js'

const run = (code: string): unknown => new Function(code)()

describe('the CLI bundle', () => {
  it('is Latin-1 text (so V8 holds its source in one byte per character), as built for the tests', () => {
    const text = readFileSync(BUNDLE, 'utf8')
    expect(text.length).toBeGreaterThan(100_000)
    expect(text.match(/[^\u0000-\u00ff]/)).toBeNull()
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
