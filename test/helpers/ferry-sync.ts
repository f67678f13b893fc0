import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository's root: where the built CLI and the fixtures are. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** The CLI as a user runs it (its bundle, built before the tests). */
export const FERRY = join(ROOT, 'bin', 'ferry.js')

/** Runs `ferry ARGS` to its end, as a person at a prompt would: its exit code and what it printed. */
export function ferry (...args: string[]): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [FERRY, ...args], { encoding: 'utf8', cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** What `--json` printed: one JSON object per line, every line (a line that is not one fails the parse). */
export function jsonLines (stdout: string): Array<Record<string, unknown>> {
  return stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)
}
