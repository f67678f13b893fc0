import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { FERRY_BIN, ferryNodeArgs } from '../../src/cli/ferry-process.js'

describe('the ferry command', () => {
  it('runs as an executable through its #! line, with the node flags spawners give it', () => {
    // As an installed command runs it: the kernel reads the #! line, env -S splits the flags.
    const help = execFileSync(FERRY_BIN, ['--help'], { encoding: 'utf8', timeout: 60_000 })
    expect(help).toMatch(/ferry send/)
    const argv = ferryNodeArgs(['receive', '--json'])
    const flags = argv.slice(0, argv.indexOf(FERRY_BIN))
    expect(argv.slice(flags.length)).toEqual([FERRY_BIN, 'receive', '--json'])
    expect(flags.length).toBeGreaterThan(0)
    expect(readFileSync(FERRY_BIN, 'utf8').split('\n', 1)[0]).toBe(`#!/usr/bin/env -S node ${flags.join(' ')}`)
  })
})
