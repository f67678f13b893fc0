// `ferry import` of a WhatsApp export whose media do not fit the disk: a real process whose store lives
// on a small tmpfs this test mounts (root only; skipped with the reason otherwise, a failure under
// CI=true). The disk fills mid-import: it says so and that nothing was imported, exit 1, and leaves
// no new store, or a store that was there exactly as it was, without the media it had copied.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../../helpers/stores.js'
import { ferry, ROOT } from '../../helpers/ferry-sync.js'
import { cannotRun } from '../../helpers/cannot-run.js'
import { mountTmpfs, unmount } from '../../helpers/tmpfs.js'

const FIXTURES = join(ROOT, 'test', 'fixtures')
const dir = tempDir()
const chat = join(dir, 'WhatsApp Chat with Family')
let mnt: string | undefined

function mountSmallDisk (): string | undefined {
  const m = mountTmpfs('ferry-import-full-', '2m')
  mnt = m.at
  return m.why
}

beforeAll(() => {
  // The Android export with its four attachments made 700 kB each: 2.8 MB, more than the 2 MiB disk.
  cpSync(join(FIXTURES, 'whatsapp', 'android'), chat, { recursive: true })
  for (const f of readdirSync(chat).filter(f => !f.endsWith('.txt'))) {
    const bytes = Buffer.alloc(700_000)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761 + f.length * 97) >>> 24
    writeFileSync(join(chat, f), bytes)
  }
  cannotRun('the import disk-full tests', mountSmallDisk())
})

afterAll(() => {
  unmount(mnt)
  cleanupTempDirs()
})

const FULL = /^ferry: [^\n]*the disk is full: nothing was imported; free some space and run the same import again \[STORE_FULL\]\n$/

const files = (store: string): string[] => (readdirSync(join(store, 'media'), { recursive: true }) as string[]).filter(f => /[0-9a-f]{64}$/.test(f)).sort()

describe('ferry import onto a disk that fills', () => {
  it('into a new store: says nothing was imported, exit 1, and leaves no store', (ctx) => {
    if (mnt === undefined) { ctx.skip(); return } // cannotRun said why (and threw under CI=true)
    const store = join(mnt, 'new-phone')
    const r = ferry('import', chat, '--store', store, '--me', 'Bob')
    expect(r.stderr).toMatch(FULL)
    expect(r.status).toBe(1)
    expect(existsSync(store)).toBe(false)
  })

  it('into a store that was there: the store stays exactly as it was', (ctx) => {
    if (mnt === undefined) { ctx.skip(); return }
    const store = join(mnt, 'phone')
    expect(ferry('import', join(FIXTURES, 'edge-cases.ndjson'), '--store', store).status).toBe(0)
    const before = ferry('export', '--store', store).stdout
    const media = files(store)
    const r = ferry('import', chat, '--store', store, '--me', 'Bob')
    expect(r.stderr).toMatch(FULL)
    expect(r.status).toBe(1)
    expect(ferry('export', '--store', store).stdout).toBe(before)
    expect(files(store)).toEqual(media)
    expect(readFileSync(join(store, 'history.db')).byteLength).toBeGreaterThan(0)
  })
})
