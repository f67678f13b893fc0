import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry } from '../helpers/ferry-sync.js'
import { SCHEMA_VERSION } from '../../src/store/schema.js'

// A store written by a newer Ferry is nothing this Ferry can fix or should touch: every command that
// opens one refuses it as bad input (exit 2, as a backup from a newer Ferry is), says to update Ferry,
// and leaves it as it was.

const dir = tempDir()
const phone = join(dir, 'phone')
const newer = join(dir, 'newer')
const password = join(dir, 'password')
const backup = join(dir, 'chats.ferrybak')

beforeAll(() => {
  expect(ferry('seed', '--store', phone, '--profile', 'tiny').status).toBe(0)
  expect(ferry('seed', '--store', newer, '--profile', 'tiny').status).toBe(0)
  writeFileSync(password, 'correct horse battery\n')
  expect(ferry('backup', '--store', phone, '--out', backup, '--password-file', password).status).toBe(0)
  const db = new Database(join(newer, 'history.db'))
  db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run()
  db.close()
}, 60_000)

afterAll(() => cleanupTempDirs())

const digest = (): string => createHash('sha256').update(readFileSync(join(newer, 'history.db'))).digest('hex')
const NOBODY = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWHFrmLWTTDD4NodngMRNfSxMhxLdJ5P7bZKSWHjHjqzrh'

describe('a store from a newer Ferry', () => {
  const commands: Array<[string, string[]]> = [
    ['inspect', ['inspect', '--store', newer]],
    ['export', ['export', '--store', newer, '--out', join(dir, 'out.ndjson')]],
    ['send', ['send', '--store', newer, '--no-mdns', '--no-sweep', '--listen', '/ip4/127.0.0.1/tcp/0', '--code', '111-2222-3333']],
    ['receive', ['receive', '--store', newer, '--no-mdns', '--no-sweep', '--peer', NOBODY, '--code', '111-2222-3333']],
    ['backup', ['backup', '--store', newer, '--out', join(dir, 'newer.ferrybak'), '--password-file', password]],
    ['restore', ['restore', '--store', newer, '--in', backup, '--password-file', password]]
  ]
  for (const [name, args] of commands) {
    it(`${name}: exit 2, "update Ferry to open it", and the store as it was`, () => {
      const before = digest()
      const r = ferry(...args)
      expect(r.stderr).toBe(`ferry: ${newer} was written by a newer Ferry (schema 99; this one knows ${SCHEMA_VERSION}): update Ferry to open it [BAD_INPUT]\n`)
      expect(r.status).toBe(2)
      expect(digest()).toBe(before)
    })
  }
})
