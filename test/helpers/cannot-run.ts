import { inCI } from '../../scripts/lib/ci.js'

/** A suite that could not run under CI=true: the run fails with this, never a silent skip. */
export class SuiteCannotRunError extends Error {
  constructor (what: string, reason: string) {
    super(`${what} cannot run here, and CI=true requires every suite to run: ${reason}`)
    this.name = 'SuiteCannotRunError'
  }
}

/**
 * What a suite does when this machine cannot run it (`reason` undefined: it can). On a developer's
 * machine it is skipped with the reason printed: returns true, for `describe.skipIf` / `it.skipIf` /
 * `ctx.skip()`. Under CI=true it throws the reason instead, failing the file, so a green CI run means
 * every suite ran.
 */
export function cannotRun (what: string, reason: string | undefined): boolean {
  if (reason === undefined) return false
  if (inCI()) throw new SuiteCannotRunError(what, reason)
  console.warn(`SKIP ${what}: ${reason}`)
  return true
}
