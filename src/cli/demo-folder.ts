import { logger } from '@libp2p/logger'
import { lstatSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pidAlive } from '../pid-alive.js'

const log = logger('ferry:demo')

// The demo's folder (its two phones' stores, hundreds of MB) in the system's temp directory, named for
// the process that made it: `ferry-demo-p<pid>-XXXXXX`. A demo killed where it could not clean up (SIGKILL)
// leaves it; the next demo removes such folders of processes that are gone, as it removes their
// namespaces (demo-lan.ts). Only folders of exactly that name, of this user: nothing else in the temp
// directory is the demo's to judge.

const PREFIX = 'ferry-demo-p'
const NAME = /^ferry-demo-p(\d+)-[A-Za-z0-9]{6}$/

/**
 * The prefix this demo's folder is made with (mkdtemp adds its six characters), once the folders of
 * demos that are gone are removed.
 */
export function demoFolderPrefix (dir = tmpdir()): string {
  for (const stale of staleDemoFolders(dir)) {
    try {
      rmSync(stale, { recursive: true, force: true })
      log('removed %s, left by a demo that was killed', stale)
    } catch (err) {
      log.error('cannot remove %s, left by a demo that was killed: %s', stale, (err as Error).message)
    }
  }
  return join(dir, `${PREFIX}${process.pid}-`)
}

/** The folders in `dir` named for a demo process that is gone, owned by this user. */
export function staleDemoFolders (dir = tmpdir()): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const uid = process.getuid?.()
  return names.filter(name => {
    const m = NAME.exec(name)
    if (m === null || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) return false
    try {
      const s = lstatSync(join(dir, name))
      return s.isDirectory() && (uid === undefined || s.uid === uid)
    } catch {
      return false // gone meanwhile
    }
  }).map(name => join(dir, name))
}
