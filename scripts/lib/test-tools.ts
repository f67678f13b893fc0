// The system tools the tests drive, and what the test set-up step (scripts/test-setup.ts, run by
// `npm test` first) does when some are missing. The one place they are installed: no test installs
// anything; a suite whose tool is missing is skipped with the reason, or fails under CI=true.
import { accessSync, constants } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'

export interface Tool {
  /** The command as the tests run it (looked up on PATH), or an absolute path. */
  command: string
  /** The Debian package that provides it. */
  pkg: string
  /** The tests that need it, for the message when it is missing. */
  usedBy: string
}

export const TOOLS: readonly Tool[] = [
  { command: 'ip', pkg: 'iproute2', usedBy: 'the network-namespace suites (netns-*, chaos, WebRTC across namespaces, the demo)' },
  { command: 'tc', pkg: 'iproute2', usedBy: 'the Wi-Fi testbed\'s rate limit (tbf)' },
  { command: 'iptables', pkg: 'iptables', usedBy: 'the Wi-Fi testbed\'s packet loss, delay relay and dropped multicast' },
  { command: 'ebtables', pkg: 'ebtables', usedBy: 'the Wi-Fi testbed\'s client isolation (netns-discovery)' },
  { command: 'sysctl', pkg: 'procps', usedBy: 'the routed Wi-Fi testbed' },
  { command: 'mount', pkg: 'mount', usedBy: 'the disk-full test (a small tmpfs)' },
  { command: 'umount', pkg: 'mount', usedBy: 'the disk-full test (a small tmpfs)' },
  { command: 'fincore', pkg: 'util-linux-extra', usedBy: 'the prefetch test (what the page cache holds)' },
  { command: 'strace', pkg: 'strace', usedBy: 'the media durability test (which directories are synced)' },
  { command: '/usr/bin/chromium', pkg: 'chromium', usedBy: 'the browser tests (driven by playwright-core)' }
]

export interface Host {
  platform: NodeJS.Platform
  /** Running as root: may install packages, make network namespaces and mount a tmpfs. */
  root: boolean
  /** apt-get is on PATH. */
  aptGet: boolean
  /** CI=true: whatever cannot be provided is a failure, not a skip. */
  ci: boolean
}

export type Step =
  | { kind: 'ready' }
  | { kind: 'install', packages: string[] }
  /** Something the tests need is not here: `fatal` under CI (the run stops), a warning otherwise. */
  | { kind: 'lacking', fatal: boolean, message: string }

/**
 * What the set-up step does next, given the tools still missing. `installFailed` is set once an
 * install was tried: it is never tried twice.
 */
export function decide (missing: readonly Tool[], host: Host, installFailed?: string): Step {
  const lacking = (why: string[]): Step => ({
    kind: 'lacking',
    fatal: host.ci,
    message: [...why, host.ci
      ? 'CI=true: every suite must run, so this run fails here.'
      : 'The suites that need them are skipped, each with its reason.'].join('\n')
  })
  if (host.platform !== 'linux') {
    return lacking([`The namespace, disk-full, prefetch and memory suites need Linux; this is ${host.platform}.`])
  }
  const list = listMissing(missing)
  if (host.ci && !host.root) {
    return lacking([
      'CI=true needs root: the namespace suites make network namespaces and the disk-full test mounts a tmpfs.',
      ...(missing.length > 0 ? [list] : [])
    ])
  }
  if (missing.length === 0) return { kind: 'ready' }
  const packages = [...new Set(missing.map(t => t.pkg))]
  if (installFailed === undefined && host.root && host.aptGet) return { kind: 'install', packages }
  const fix = `apt-get update && apt-get install --no-install-recommends ${packages.join(' ')}`
  const why = installFailed !== undefined
    ? `Installing them did not work: ${installFailed}`
    : !host.aptGet
        ? `There is no apt-get here to install them; install the equivalent of: ${packages.join(' ')}`
        : `Only root may install them (npm test installs them when run as root), or: sudo ${fix}`
  return lacking([list, why])
}

function listMissing (missing: readonly Tool[]): string {
  return `Missing system tools:\n${missing.map(t => `  ${t.command} (Debian package ${t.pkg}), for ${t.usedBy}`).join('\n')}`
}

/** Whether `command` runs as the tests run it: an executable file at its path, or on PATH. */
export function onPath (command: string, path = process.env.PATH ?? ''): boolean {
  const candidates = isAbsolute(command) ? [command] : path.split(delimiter).filter(d => d !== '').map(d => join(d, command))
  return candidates.some(file => {
    try {
      accessSync(file, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

export interface SetupDeps {
  host: Host
  present: (tool: Tool) => boolean
  /** Runs apt-get with these arguments; rejects with what went wrong. */
  aptGet: (args: string[]) => Promise<void>
  say: (line: string) => void
}

/** The set-up step: checks, installs what it may, re-checks. Resolves to its exit code. */
export async function setUpTools (deps: SetupDeps, tools: readonly Tool[] = TOOLS): Promise<number> {
  const missing = (): Tool[] => tools.filter(t => !deps.present(t))
  let step = decide(missing(), deps.host)
  if (step.kind === 'install') {
    deps.say(`test set-up: installing ${step.packages.join(' ')} with apt-get (missing: ${missing().map(t => t.command).join(', ')})`)
    let failure: string | undefined
    try {
      await deps.aptGet(['update'])
      await deps.aptGet(['install', '-y', '--no-install-recommends', ...step.packages])
    } catch (err) {
      failure = (err as Error).message
    }
    const still = missing()
    failure ??= still.length > 0 ? `apt-get installed ${step.packages.join(' ')} but ${still.map(t => t.command).join(', ')} ${still.length === 1 ? 'is' : 'are'} still not found on PATH` : undefined
    step = decide(still, deps.host, failure)
  }
  if (step.kind === 'ready') {
    deps.say(`test set-up: system tools present (${tools.map(t => t.command).join(', ')})`)
    return 0
  }
  if (step.kind === 'install') throw new Error('unreachable: an install is never planned twice')
  deps.say(`test set-up: ${step.fatal ? 'FAILED' : 'warning'}\n${step.message}`)
  return step.fatal ? 1 : 0
}
