// `ferry backup` onto a disk that fills while it writes: a real process writing to a small tmpfs this
// test mounts (root only; skipped with the reason otherwise, a failure under CI=true). A person who
// sees "the disk is full" is about to delete things to make room: they are told that the earlier
// backup at FILE is whole (the new one went to FILE.partial, now removed) and how much room to make.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, ROOT } from '../helpers/ferry-sync.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { mountTmpfs, unmount } from '../helpers/tmpfs.js'
import { formatBytes } from '../../src/format-bytes.js'

const dir = tempDir()
const phone = join(dir, 'phone')
const pw = join(dir, 'pw')
let mnt: string | undefined

beforeAll(() => {
  const m = mountTmpfs('ferry-backup-full-', '2m')
  mnt = m.at
  if (cannotRun('the backup disk-full test', m.why)) return
  // The tiny profile's 1.5 MB of media, beside a 1 MB file: they do not fit on 2 MiB.
  expect(ferry('seed', '--store', phone, '--profile', 'tiny').status).toBe(0)
  writeFileSync(join(mnt as string, 'filler'), Buffer.alloc(1024 * 1024))
  writeFileSync(pw, 'correct horse battery staple\n')
}, 60_000)

afterAll(() => {
  unmount(mnt)
  cleanupTempDirs()
})

describe('ferry backup onto a disk that fills', () => {
  it('says the earlier backup at FILE stays as it was, and how much room the backup needs', (ctx) => {
    if (mnt === undefined) { ctx.skip(); return } // cannotRun said why (and threw under CI=true)
    // An earlier backup at FILE, of a smaller phone: it fits.
    const small = join(dir, 'small')
    expect(ferry('import', join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson'), '--store', small).status).toBe(0)
    const out = join(mnt, 'chats.ferrybak')
    expect(ferry('backup', '--store', small, '--out', out, '--password-file', pw).status).toBe(0)
    const before = readFileSync(out)

    const r = ferry('backup', '--store', phone, '--out', out, '--password-file', pw)
    expect(r.status, r.stderr).toBe(1)
    const need = /needs up to about ([\d.]+ [kM]B) there/.exec(r.stderr)?.[1]
    expect(r.stderr).toBe(`ferry: writing the backup ${out}: the disk is full: the earlier backup at ${out} stays as it was. ` +
      `The backup needs up to about ${need} there; make room and run the same backup again [STORE_FULL]\n`)
    // At least what it backs up: the phone's media.
    const media = Number(/"mediaBytesPresent":(\d+)/.exec(ferry('inspect', '--store', phone, '--json').stdout)?.[1])
    expect(media).toBeGreaterThan(1_000_000)
    expect(['1.5 MB', '1.6 MB', '1.7 MB', '1.8 MB']).toContain(need)
    expect(formatBytes(media)).toBe('1.5 MB')
    expect(readFileSync(out).equals(before)).toBe(true)
    expect(readdirSync(mnt).filter(f => f.includes('.partial'))).toEqual([])
    expect(ferry('restore', '--store', join(dir, 'restored'), '--in', out, '--password-file', pw).status).toBe(0)

    // With no earlier backup, nothing is left at FILE.
    const fresh = join(mnt, 'new.ferrybak')
    const n = ferry('backup', '--store', phone, '--out', fresh, '--password-file', pw)
    expect(n.status).toBe(1)
    expect(n.stderr).toContain(`the disk is full: nothing is left at ${fresh}. The backup needs up to about ${need} there`)
    expect(readdirSync(mnt).sort()).toEqual(['chats.ferrybak', 'filler'])
  })
})
