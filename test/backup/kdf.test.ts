import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, openStore, tempDir } from '../helpers/stores.js'
import { closeJournals, journalOf } from '../helpers/transfer.js'
import { openBackup, readBackupHeader, restoreBackup, writeBackup } from '../../src/backup/backup.js'
import { MAX_KDF_BYTES, deriveKeys, newHeader, parseHeader } from '../../src/backup/format.js'
import { isFerryError } from '../../src/errors.js'

// The password's key: costly enough for every guess of an offline attacker (scrypt at or above OWASP's
// N=2^17), every header the format allows opens (scrypt's memory limit follows the header), headers
// beyond it are refused before any work, and files written with the older, cheaper cost still restore.

const HERE = dirname(fileURLToPath(import.meta.url))

afterAll(async () => { await closeJournals(); cleanupTempDirs() })

async function rejection (p: Promise<unknown>): Promise<Error> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(Error)
  return err as Error
}

describe('backup key derivation', () => {
  it('a new password-protected backup asks scrypt for N >= 2^17 (OWASP\'s minimum), r=8, p=1; and it opens', async () => {
    const store = openStore()
    const file = join(tempDir(), 'b.ferrybak')
    try {
      await writeBackup(store, file, { password: 'correct horse' })
    } finally {
      store.close()
    }
    const h = await readBackupHeader(file)
    expect(h.password).toBe(true)
    expect(h.kdf.log2N).toBeGreaterThanOrEqual(17)
    expect({ r: h.kdf.r, p: h.kdf.p }).toEqual({ r: 8, p: 1 })
    // The default itself needs more memory than the old fixed 256 MiB limit allowed.
    const opened = await openBackup(file, 'correct horse')
    expect(opened.header.kdf).toEqual(h.kdf)
  }, 60_000)

  it('derives a key for a header at the format\'s bound (scrypt N=2^20 r=8: 1 GiB)', () => {
    const h = newHeader({ password: true, kdf: { log2N: 20, r: 8, p: 1 } })
    expect(128 * 2 ** 20 * 8).toBe(MAX_KDF_BYTES)
    const k = deriveKeys(h, 'pw')
    expect(k.key.byteLength).toBe(32)
  }, 120_000)

  it('refuses a header beyond the bound before spending anything on it, saying why', () => {
    for (const [log2N, r, p] of [[21, 8, 1], [20, 16, 1], [19, 8, 4], [30, 255, 255]]) {
      const b = Buffer.from(newHeader({ password: true, kdf: { log2N: 4, r: 8, p: 1 } }).bytes)
      b[11] = log2N; b[12] = r; b[13] = p
      let err: unknown
      try { parseHeader(b, 'hostile.ferrybak') } catch (e) { err = e }
      expect(isFerryError(err, 'BAD_INPUT'), String(err)).toBe(true)
      expect((err as Error).message).toMatch(new RegExp(`^hostile\\.ferrybak asks for scrypt N=2\\^${log2N} r=${r} p=${p} \\(\\d+ MiB of work\\), beyond the 1024 MiB Ferry allows: the file is damaged or was not written by Ferry$`))
    }
  })

  it('a zero cost field is a damaged header, not a crash', () => {
    const b = Buffer.from(newHeader({ password: true, kdf: { log2N: 4, r: 8, p: 1 } }).bytes)
    b[13] = 0
    expect(() => parseHeader(b, 'x')).toThrow(/x has a damaged header \(scrypt N=2\^4 r=8 p=0\)/)
  })

  it('restores a backup an older Ferry wrote with scrypt N=2^15 (the header carries its cost)', async () => {
    // legacy-scrypt15.ferrybak: `ferry backup` before the cost went up, of test/fixtures/edge-cases.ndjson,
    // password 'ferry before issue 21'; legacy-scrypt15.ndjson is `ferry export` of the store it came from.
    const file = join(HERE, 'legacy-scrypt15.ferrybak')
    const h = await readBackupHeader(file)
    expect(h.kdf).toEqual({ log2N: 15, r: 8, p: 1 })
    const wrong = await rejection(openBackup(file, 'ferry after issue 21'))
    expect(wrong.message).toMatch(/wrong password for legacy-scrypt15\.ferrybak/)
    const target = openStore()
    try {
      const r = await restoreBackup(target, journalOf(target), await openBackup(file, 'ferry before issue 21'))
      expect(r.receiver.state).toBe('verified')
      expect(await exportText(target)).toBe(readFileSync(join(HERE, 'legacy-scrypt15.ndjson'), 'utf8'))
    } finally {
      target.close()
    }
  })

  it('a header whose cost was altered fails the key check (the cost is bound into the key)', async () => {
    const dir = tempDir()
    const file = join(dir, 'altered.ferrybak')
    const b = readFileSync(join(HERE, 'legacy-scrypt15.ferrybak'))
    b[11] = 14 // an attacker lowering the cost to guess faster gets a file no password opens
    writeFileSync(file, b)
    const err = await rejection(openBackup(file, 'ferry before issue 21'))
    expect(err.message).toMatch(/wrong password for altered\.ferrybak \(or its header is damaged\)/)
  })
})
