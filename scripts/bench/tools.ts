// The programs the comparison lanes run (rsync, sshd, ssh, socat, Chromium): found on this machine, or
// installed from Debian's packages (apt-get update first) when missing and allowed, or a clear refusal.
import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface Tool {
  /** The program's name, as on PATH. */
  cmd: string
  /** The Debian package that provides it. */
  pkg: string
  /** Which lanes need it, for the message when it is missing. */
  for: string
}

export class MissingToolError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'MissingToolError'
  }
}

/** Where sshd lives on Debian: not on every user's PATH. */
const SBIN = ['/usr/sbin', '/sbin']

/** The absolute path of `cmd` on PATH (or in the sbin directories), or undefined. */
export function which (cmd: string, path = process.env.PATH ?? ''): string | undefined {
  for (const d of [...path.split(delimiter).filter(d => d !== ''), ...SBIN]) {
    const p = join(d, cmd)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {}
  }
  return undefined
}

let aptUpdated = false

/**
 * The absolute path of every tool, installing the missing ones with apt-get (one `apt-get update`
 * first) when `install` is true and this process is root. Throws a MissingToolError that names the
 * packages and the lanes that need them otherwise.
 */
export async function requireTools (tools: Tool[], o: { install: boolean, log?: (line: string) => void }): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  const missing: Tool[] = []
  for (const t of tools) {
    const p = which(t.cmd)
    if (p !== undefined) found.set(t.cmd, p); else missing.push(t)
  }
  if (missing.length === 0) return found
  const pkgs = [...new Set(missing.map(t => t.pkg))]
  const what = missing.map(t => `${t.cmd} (package ${t.pkg}, for ${t.for})`).join(', ')
  const pick = 'or leave those lanes out with --lanes'
  if (!o.install) throw new MissingToolError(`missing: ${what}. Install with \`apt-get install ${pkgs.join(' ')}\`, run without --no-install to let the benchmark do it, ${pick}`)
  if (process.getuid?.() !== 0) throw new MissingToolError(`missing: ${what}. Only root can install them here: \`sudo apt-get install ${pkgs.join(' ')}\`, ${pick}`)
  if (which('apt-get') === undefined) throw new MissingToolError(`missing: ${what}, and there is no apt-get to install ${pkgs.join(' ')} with: install them by hand, ${pick}`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    if (!aptUpdated) {
      o.log?.('apt-get update')
      await run('apt-get', ['update'], { env, timeout: 600_000 })
      aptUpdated = true
    }
    o.log?.(`apt-get install ${pkgs.join(' ')}`)
    await run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env, timeout: 600_000 })
  } catch (err) {
    const detail = ((err as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-3).join(' ') || (err as Error).message
    throw new MissingToolError(`missing: ${what}, and \`apt-get install ${pkgs.join(' ')}\` failed: ${detail}`)
  }
  for (const t of missing) {
    const p = which(t.cmd)
    if (p === undefined) throw new MissingToolError(`installed ${t.pkg}, but ${t.cmd} is still not found`)
    found.set(t.cmd, p)
  }
  return found
}
