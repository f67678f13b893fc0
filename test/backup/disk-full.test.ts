// `ferry restore` onto a disk too small for the backup: a real process whose store lives on a small
// tmpfs this test mounts (root only; skipped with the reason otherwise, a failure under CI=true). A
// backup whose media cannot fit is refused before they come, naming both numbers; one that fills the
// disk part-way says that what is restored stays and how to carry on, and leaves a store that reads;
// once there is room, the same restore ends verified and equal to the phone the backup was made of.
import { copyFileSync, existsSync, rmSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, ROOT } from '../helpers/ferry-sync.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { mountTmpfs, unmount } from '../helpers/tmpfs.js'

const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')
const dir = tempDir()
const phone = join(dir, 'phone')
const pw = join(dir, 'pw')
const bak = join(dir, 'phone.ferrybak')
let phoneExport: string
let mnt: string | undefined

/** A 2 MiB tmpfs, about the size of the tiny profile's media and history; says why not where it cannot. */
function mountSmallDisk (): string | undefined {
  const m = mountTmpfs('ferry-restore-full-', '2m')
  mnt = m.at
  return m.why
}

beforeAll(() => {
  if (cannotRun('the restore disk-full tests', mountSmallDisk())) return
  expect(ferry('seed', '--store', phone, '--profile', 'tiny').status).toBe(0)
  phoneExport = ferry('export', '--store', phone).stdout
  writeFileSync(pw, 'correct horse battery staple\n')
  expect(ferry('backup', '--store', phone, '--out', bak, '--password-file', pw).status).toBe(0)
}, 60_000)

afterAll(() => {
  unmount(mnt)
  cleanupTempDirs()
})

describe('ferry restore onto a disk that is too small', () => {
  it('media that cannot fit are refused before they come, naming both numbers; nothing of them is written', (ctx) => {
    if (mnt === undefined) { ctx.skip(); return } // cannotRun said why (and threw under CI=true)
    // The backup itself takes most of the disk, so its media cannot fit beside it.
    const onDisk = join(mnt, 'phone.ferrybak')
    copyFileSync(bak, onDisk)
    const target = join(mnt, 'new-phone')
    const r = ferry('restore', '--store', target, '--in', onDisk, '--password-file', pw)
    expect(r.stderr).toMatch(/^ferry: not enough free space for this history: its media still to come take [\d,]+ bytes .*, this phone has [\d,]+ bytes .* free; free at least [\d,]+ bytes .* more and run the same restore again/)
    // The store it would have created holds nothing: it is not left behind, empty, to pass for a phone.
    expect(r.stderr).toMatch(new RegExp(` \\(nothing was restored: the new folder ${target} is removed\\) \\[STORE_FULL\\]\n$`))
    expect(r.status).toBe(1)
    expect(existsSync(target)).toBe(false)
    // Into a store that holds a history, the same refusal leaves it whole.
    const held = join(mnt, 'phone-in-use')
    expect(ferry('import', FIXTURE, '--store', held).status).toBe(0)
    const heldExport = ferry('export', '--store', held).stdout
    const again = ferry('restore', '--store', held, '--in', onDisk, '--password-file', pw)
    expect(again.stderr).toMatch(/ more and run the same restore again \[STORE_FULL\]\n$/)
    expect(again.status).toBe(1)
    expect(ferry('export', '--store', held).stdout).toBe(heldExport)
    rmSync(onDisk)
    rmSync(held, { recursive: true })
  })

  it('a disk that fills part-way: says what stays and how to carry on; run again with room, it ends verified', (ctx) => {
    if (mnt === undefined) { ctx.skip(); return }
    const target = join(mnt, 'new-phone')
    const r = ferry('restore', '--store', target, '--in', bak, '--password-file', pw)
    expect(r.stderr).toMatch(/^ferry: [^\n]*the disk is full\. What is restored so far stays: free some space and run the same restore again to carry on \[STORE_FULL\]\n$/)
    expect(r.status).toBe(1)
    // The full store still reads, and holds only what the phone held.
    const i = ferry('inspect', '--store', target)
    expect(i.status, i.stderr).toBe(0)
    const lines = new Set(phoneExport.trim().split('\n'))
    for (const line of ferry('export', '--store', target).stdout.trim().split('\n')) expect(lines.has(line), line).toBe(true)
    execFileSync('mount', ['-o', 'remount,size=16m', mnt], { stdio: 'pipe' })
    const again = ferry('restore', '--store', target, '--in', bak, '--password-file', pw)
    expect(again.stderr).toMatch(/Restored and verified: 300 messages/)
    expect(again.status).toBe(0)
    expect(ferry('export', '--store', target).stdout).toBe(phoneExport)
  })
})
