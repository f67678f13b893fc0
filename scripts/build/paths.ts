import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..')
export const SRC = join(ROOT, 'src')
/** Everything the package ships that a build makes (gitignored). */
export const DIST = join(ROOT, 'dist')

/** What every part of the build is made from: the sources, the dependencies, the build itself. */
export const BUILD_INPUTS = [SRC, join(ROOT, 'package.json'), join(ROOT, 'package-lock.json'), join(ROOT, 'scripts', 'build')]

/** The newest modification time of `paths` and of every file below those that are directories. */
export function newestMtime (paths: string[]): number {
  let newest = 0
  const visit = (p: string): void => {
    const st = statSync(p)
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name))
    else newest = Math.max(newest, st.mtimeMs)
  }
  for (const p of paths) if (existsSync(p)) visit(p)
  return newest
}

/**
 * Whether `output` is missing or older than any of `inputs`. For the tests and a developer's edits; the
 * built CLI never checks (an installed package has no sources to compare with).
 */
export function isStale (output: string, inputs = BUILD_INPUTS): boolean {
  return !existsSync(output) || statSync(output).mtimeMs < newestMtime(inputs)
}
