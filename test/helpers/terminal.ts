import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { FERRY, ROOT } from './ferry-sync.js'

/** Why `ferry` cannot be run on a pseudo-terminal here, or undefined when it can (util-linux's `script`). */
export const noTerminal = spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0 ? undefined : 'util-linux\'s `script` is missing (apt-get install bsdutils)'

const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`

export interface OnTerminal {
  child: ChildProcessWithoutNullStreams
  /** Everything the terminal was sent so far, stdout and stderr as one screen gets them. */
  output: () => string
  /** The exit code, as `script` passes on the command's. */
  closed: Promise<number | null>
  /** The ferry process itself (`script` runs it in place of its shell). */
  pid: () => number
}

/** `ferry ARGS` on a new pseudo-terminal (its stdin, stdout and stderr), as a person runs it. */
export function onTerminal (args: string[], env: NodeJS.ProcessEnv = {}): OnTerminal {
  const command = 'exec ' + [process.execPath, FERRY, ...args].map(quote).join(' ')
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FERRY_MDNS_NETNS_ONLY: '1', ...env } })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  const closed = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  const pid = (): number => {
    const pids = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(p => p !== '')
    if (pids.length !== 1) throw new Error(`expected one process under script, found ${pids.length}`)
    return Number(pids[0])
  }
  return { child, output: () => output, closed, pid }
}

/** A bar's renders as they were drawn, each from its line's start (\x1b[1G) to its erase (\x1b[0K). */
export function barRenders (output: string, label: string): string[] {
  return [...output.matchAll(/\x1b\[1G([^\x1b]*)\x1b\[0K/g)].map(m => m[1]).filter(r => r.startsWith(label))
}
