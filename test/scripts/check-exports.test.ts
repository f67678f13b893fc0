// scripts/check-exports.ts: every type a public export of the package names is one an app can import.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { unexportedTypes } from '../../scripts/check-exports.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const dirs: string[] = []
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

/** A built package's declarations, written as `files` (path to text) into a folder of their own. */
function declarations (files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-exports-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

describe('the package\'s declarations', () => {
  it('name no type of the package\'s own that its entry points do not export (npx tsx scripts/check-exports.ts)', async () => {
    const ran = await new Promise<{ code: number, stdout: string, stderr: string }>(resolve => {
      execFile(process.execPath, ['--import', 'tsx', 'scripts/check-exports.ts'], { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stdout, stderr })
      })
    })
    expect(ran.stdout).toBe('')
    expect(ran.code, ran.stderr).toBe(0)
    expect(ran.stderr).toMatch(/every type the exports of chat-ferry and chat-ferry\/node and chat-ferry\/web name is exported/)
  }, 120_000)
})

describe('check-exports', () => {
  it('finds a type a signature names that its entry does not export, and what that type names in turn', () => {
    const dist = declarations({
      'index.d.ts': [
        "import { type Init } from './machine.js'",
        "export { Kind } from './machine.js'",
        'export declare class Machine {',
        '  constructor (init: Init)',
        '  kind: Kind.A',
        '  private secret;',
        '  private readonly hidden: Hidden',
        '}',
        "import { Kind } from './machine.js'",
        "import { type Hidden } from './machine.js'",
        ''
      ].join('\n'),
      'machine.d.ts': [
        'export declare enum Kind { A = 0 }',
        'export interface Init { events?: Events }',
        'interface Events { done: CustomEvent<number> }',
        'export interface Hidden { x: number }',
        ''
      ].join('\n')
    })
    const found = unexportedTypes(dist, [{ entry: '.', types: './dist/index.d.ts' }])
    expect(found.map(f => ({ name: f.name, file: f.file, via: f.via }))).toEqual([
      { name: 'Init', file: 'machine.d.ts', via: 'Machine' },
      { name: 'Events', file: 'machine.d.ts', via: 'Machine > Init' }
    ])
  })

  it('takes an entry\'s exports as they are: a type only the other entry exports counts as missing', () => {
    const dist = declarations({
      'index.d.ts': "import type { Options } from './options.js'\nexport declare function start (o: Options): void\n",
      'node.d.ts': "export * from './index.js'\nexport type { Options } from './options.js'\n",
      'options.d.ts': 'export interface Options { port: number }\n'
    })
    const found = unexportedTypes(dist, [{ entry: '.', types: './dist/index.d.ts' }, { entry: './node', types: './dist/node.d.ts' }])
    expect(found.map(f => `${f.entry} ${f.name}`)).toEqual(['. Options'])
  })
})
