import { afterAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupTempDirs, exportText, openStore } from '../helpers/stores.js'
import { runTransfer } from '../helpers/transfer.js'
import { importNdjson } from '../../src/sim/import.js'

// A history written by hand in the NDJSON format (not by our generator), full of edge cases: it imports,
// moves through the engine, and comes out as the same records.
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'edge-cases.ndjson')

afterAll(cleanupTempDirs)

const records = (text: string): string[] => text.trim().split('\n').map(l => {
  const r = JSON.parse(l)
  delete r.path // present on import, absent on a plain export
  return JSON.stringify(r)
}).sort()

describe('a foreign history', () => {
  it('imports, transfers and exports to the same records, in small frames and large', async () => {
    const source = openStore()
    await importNdjson(source, FIXTURE)
    const exported = await exportText(source)
    expect(records(exported)).toEqual(records(readFileSync(FIXTURE, 'utf8')))
    for (const options of [{ batchBytes: 256, chunkBytes: 1024, windowBytes: 4096 }, {}]) {
      const target = openStore()
      const r = await runTransfer(source, target, { options })
      expect(r.receiverError).toBeUndefined()
      expect(r.receiver.state).toBe('verified')
      expect(await exportText(target)).toBe(exported)
      target.close()
    }
    source.close()
  })
})
