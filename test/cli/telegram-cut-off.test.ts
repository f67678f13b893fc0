// `ferry import` of a Telegram export whose result.json is empty or cut off part-way: an export, or a
// copy or download of it, that did not finish. It is said as such, not as a file that is no chat export
// at all, and nothing is written. Real processes of the built CLI.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, ROOT } from '../helpers/ferry-sync.js'
import { writeZip } from '../sim/importers/zip-writer.js'

const RESULT = readFileSync(join(ROOT, 'test', 'fixtures', 'telegram', 'result.json'))
const dir = tempDir()

afterAll(() => cleanupTempDirs())

/** A Telegram export folder whose result.json holds `bytes`. */
function exportFolder (name: string, bytes: Uint8Array): string {
  const folder = join(dir, name)
  mkdirSync(folder)
  writeFileSync(join(folder, 'result.json'), bytes)
  return folder
}

function refused (path: string, message: string): void {
  const store = join(dir, `store-${Math.random().toString(36).slice(2)}`)
  const r = ferry('import', path, '--store', store)
  expect(r.stderr).toBe(`ferry: ${message} [BAD_INPUT]\n`)
  expect(r.status).toBe(2)
  expect(existsSync(store), 'no store is left behind').toBe(false)
}

const empty = (where: string): string => `${where} is an empty Telegram export: the file has nothing in it, as when the export or its copy did not finish. Export the chat again from Telegram Desktop`
const cutOff = (where: string): string => `${where} is a Telegram export cut off part-way (its JSON stops before it closes), as when the export or its copy did not finish. Export the chat again, or copy the export whole`

describe('ferry import of a Telegram export that did not finish', () => {
  it('an empty result.json, as a folder, the file itself or in a zip, is said to be an empty Telegram export', () => {
    const folder = exportFolder('empty', new Uint8Array(0))
    refused(folder, empty(`result.json (in ${folder})`))
    refused(join(folder, 'result.json'), empty(`result.json (in ${folder})`))
    const zip = writeZip(join(dir, 'empty.zip'), [{ name: 'result.json', data: new Uint8Array(0) }])
    refused(zip, empty(`result.json (in ${zip})`))
  })

  it('a result.json cut off part-way, even right after its first brace, is said to be cut off', () => {
    const half = exportFolder('half', RESULT.subarray(0, Math.floor(RESULT.length / 2)))
    refused(half, cutOff(`result.json (in ${half})`))
    refused(join(half, 'result.json'), cutOff(`result.json (in ${half})`))
    const brace = exportFolder('brace', Buffer.from('{\n'))
    refused(brace, cutOff(`result.json (in ${brace})`))
    const zip = writeZip(join(dir, 'half.zip'), [{ name: 'ChatExport/result.json', data: RESULT.subarray(0, 1000) }])
    refused(zip, cutOff(`ChatExport/result.json (in ${zip})`))
  })

  it('a whole result.json with a wrong byte in it is not taken for one cut off', () => {
    const text = RESULT.toString('utf8')
    // A comma dropped between two of its fields: the JSON still closes all it opens.
    const i = text.indexOf(',\n')
    const broken = exportFolder('broken', Buffer.from(text.slice(0, i) + text.slice(i + 1)))
    const r = ferry('import', broken, '--store', join(dir, 'broken-store'))
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/: not a recognised chat export .*: not JSON \(/)
  })
})
