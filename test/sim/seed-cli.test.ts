import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { main } from '../../src/cli/main.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

afterAll(cleanupTempDirs)

/** Runs `ferry ARGS` in this process, capturing what it prints. */
async function ferry (...args: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true })
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err += String(s); return true })
  try {
    return { code: await main(args), out, err }
  } finally {
    o.mockRestore()
    e.mockRestore()
  }
}

function messageCount (dir: string): number {
  const store = SqliteChatStore.open(dir)
  try { return store.stats().messages } finally { store.close() }
}

describe('ferry seed', () => {
  it('teaches with an example', async () => {
    const r = await ferry('seed', '--help')
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/Usage: ferry seed --store DIR --profile/)
    expect(r.out).toMatch(/ferry seed --store \.\/old-phone --profile small/)
    for (const p of ['tiny', 'small', 'medium', 'large']) expect(r.out).toContain(p)
  })

  it('seeds a new store and prints a summary', async () => {
    const dir = join(tempDir(), 'phone')
    const r = await ferry('seed', '--store', dir, '--profile', 'tiny', '--seed', '3')
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/profile tiny, seed 3/)
    expect(r.out).toMatch(/8 contacts, 4 conversations, 300 messages, \d+ media files \(1\.5 MB\)/)
    expect(messageCount(dir)).toBe(300)
  })

  it('refuses a store that holds a history unless --force, which adds to it', async () => {
    const dir = join(tempDir(), 'phone')
    expect((await ferry('seed', '--store', dir, '--profile', 'tiny')).code).toBe(0)
    const refused = await ferry('seed', '--store', dir, '--profile', 'tiny', '--seed', '2')
    expect(refused.code).toBe(2)
    expect(refused.err).toMatch(/already holds a history .*--force/)
    expect(messageCount(dir)).toBe(300)
    const forced = await ferry('seed', '--store', dir, '--profile', 'tiny', '--seed', '2', '--force')
    expect(forced.code).toBe(0)
    expect(messageCount(dir)).toBe(600) // another seed: other message ids, same conversation ids
    // The same seed again changes nothing, as --help says.
    const before = (await ferry('export', '--store', dir)).out
    expect(before.split('\n').filter(l => l.startsWith('{"type":"message"'))).toHaveLength(600)
    expect((await ferry('seed', '--store', dir, '--profile', 'tiny', '--seed', '2', '--force')).code).toBe(0)
    expect((await ferry('export', '--store', dir)).out).toBe(before)
  })

  it('refuses a non-empty directory that is not a store', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'notes.txt'), 'mine')
    const r = await ferry('seed', '--store', dir, '--profile', 'tiny')
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/not empty and holds no Ferry store/)
  })

  it('seeds an existing empty directory', async () => {
    const dir = join(tempDir(), 'empty')
    mkdirSync(dir)
    expect((await ferry('seed', '--store', dir, '--profile', 'tiny')).code).toBe(0)
  })

  it('reports bad usage with exit code 2', async () => {
    const dir = join(tempDir(), 'phone')
    expect((await ferry('seed', '--profile', 'tiny')).err).toMatch(/missing --store/)
    for (const args of [['--profile', 'huge'], ['--profile', 'tiny', '--seed', 'x'], []]) {
      const r = await ferry('seed', '--store', dir, ...args)
      expect(r.code).toBe(2)
    }
  })

  it('prints JSON lines with --json', async () => {
    const dir = join(tempDir(), 'phone')
    const r = await ferry('seed', '--store', dir, '--profile', 'tiny', '--json')
    expect(r.code).toBe(0)
    const events = r.out.trim().split('\n').map(l => JSON.parse(l) as { event: string })
    expect(events.at(-1)).toMatchObject({ event: 'seeded', profile: 'tiny', seed: 1, messages: 300 })
  })
})
