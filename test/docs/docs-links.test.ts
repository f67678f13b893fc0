// The documents a newcomer reads hold together: every link between them leads to a file and a heading
// that are there, README keeps the commands CI runs, the embedding guide's install line names the
// versions the package pins, and the error table names every code there is.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/errors.js'
import { ROOT } from '../helpers/ferry-sync.js'

const DOCS = ['README.md', 'src/pairing/README.md', ...readdirSync(join(ROOT, 'docs')).filter(f => f.endsWith('.md')).map(f => `docs/${f}`)]

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8')

/** The text outside fenced code blocks, where a `[x](y)` is code, not a link. */
function prose (text: string): string {
  return text.replace(/^```[^]*?^```/gm, '')
}

/** GitHub's anchor for a heading: lower case, punctuation dropped but `-` and `_`, spaces to `-`. */
function slug (heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')
}

function anchors (file: string): Set<string> {
  return new Set([...prose(read(file)).matchAll(/^#{1,6} (.+)$/gm)].map(m => slug(m[1])))
}

describe('the documents', () => {
  it('link only to files and headings that are there', () => {
    const broken: string[] = []
    let links = 0
    for (const file of DOCS) {
      for (const [, target] of prose(read(file)).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue
        links++
        const [path, anchor] = target.split('#')
        const to = path === '' ? file : relative(ROOT, join(ROOT, dirname(file), path))
        if (!existsSync(join(ROOT, to))) broken.push(`${file}: ${target} (no ${to})`)
        else if (anchor !== undefined && !anchors(to).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor} in ${to})`)
      }
    }
    expect(broken).toEqual([])
    expect(links).toBeGreaterThan(20)
  })

  it('README holds the set-up and test commands, as .ci/run runs them', () => {
    const readme = read('README.md')
    const ci = read('.ci/run').split('\n').filter(l => l.startsWith('npm '))
    expect(ci).toEqual(['npm ci', 'npm test'])
    for (const command of ci) expect(readme).toContain('```sh\n' + command + '\n```')
  })

  it('tell an app to install the libp2p modules at the versions the package pins', () => {
    const { dependencies } = JSON.parse(read('package.json')) as { dependencies: Record<string, string> }
    const line = /^npm install chat-ferry (.+)$/m.exec(read('docs/embedding.md'))?.[1]
    expect(line, 'docs/embedding.md: an `npm install chat-ferry ...` line').toBeDefined()
    const named = line!.split(' ').map(p => /^(@?[^@]+)@(.+)$/.exec(p)!)
    expect(named.length).toBeGreaterThan(0)
    for (const [, name, version] of named) expect(version, name).toBe(dependencies[name])
    // What its complete example imports is what that line installs (or the package itself).
    const example = /### A complete example[^]*?```js\n([^]*?)```/.exec(read('docs/embedding.md'))?.[1] ?? ''
    const imported = [...example.matchAll(/from '([^']+)'/g)].map(m => m[1]).filter(m => !m.startsWith('node:') && !m.startsWith('chat-ferry'))
    expect(imported.length).toBeGreaterThan(0)
    expect(imported.sort()).toEqual(named.map(n => n[1]).sort())
  })

  it('list every error code once, with its exit code', () => {
    const rows = [...read('docs/errors.md').matchAll(/^\| `([A-Z_]+)` \|.*\| (\d) \|$/gm)]
    expect(rows.map(r => r[1]).sort()).toEqual(Object.keys(ErrorCode).sort())
    for (const [, code, exit] of rows) expect(exit, code).toBe(code === ErrorCode.BAD_INPUT ? '2' : '1')
  })
})
