import { afterAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

afterAll(() => cleanupTempDirs())

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const GROUP_SYNC = join(ROOT, 'src/store/group-sync.ts')

describe('GroupSync', () => {
  it('keeps a process with nothing else to do alive until its files are durable', () => {
    // A group large enough for syncfs through the helper process, awaited by a script with no socket,
    // timer or other handle of its own: the way a script drives the engine over an in-memory pipe.
    // .mts: an ES module whatever package.json lies (or does not lie) above the temp folder, so its
    // top-level await runs under tsx on any machine.
    const dir = tempDir()
    const script = join(dir, 'flush.mts')
    writeFileSync(script, `
      import { writeFileSync } from 'node:fs'
      import { join } from 'node:path'
      import { GroupSync } from ${JSON.stringify(GROUP_SYNC)}
      const dir = ${JSON.stringify(dir)}
      const sync = new GroupSync(dir)
      const files = Array.from({ length: 64 }, (_, i) => join(dir, 'f' + i))
      for (const f of files) writeFileSync(f, 'x')
      await Promise.all(files.map(f => new Promise((resolve, reject) => sync.whenDurable(f, err => err === undefined ? resolve() : reject(err)))))
      sync.close()
      console.log('durable')
    `)
    // From the repository, where `--import tsx` resolves, whatever folder the runner started in.
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).toBe('')
    expect([r.status, r.stdout.trim()]).toEqual([0, 'durable'])
  })
})
