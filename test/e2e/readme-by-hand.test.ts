// The README's "By hand" block, run as a newcomer runs it: two phones on one machine, the QR payload
// pasted from the sender's output into the receive line, then the two exports compared. Its promise is
// loopback with mDNS and the sweep off, so every line runs with FERRY_MDNS_NETNS_ONLY=1: a line that
// would start discovery on this machine's network fails instead of running it.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, ROOT, tempDir } from './helpers/ferry-cli.js'

const BIN = join(ROOT, 'bin', 'ferry.js')
const ENV = { ...process.env, FERRY_MDNS_NETNS_ONLY: '1', NO_COLOR: '1' }
/** `npx ferry` is the package's bin; a shell function stands in for it, so the lines run as written. */
const PRELUDE = `npx () { shift; node ${JSON.stringify(BIN)} "$@"; }\n`

/** The README's by-hand commands, one per entry: comments dropped, continuation lines joined. */
function byHandCommands (): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const block = /By hand, two simulated phones on one machine[^]*?```sh\n([^]*?)```/.exec(readme)?.[1]
  if (block === undefined) throw new Error('the README has no "By hand" sh block')
  return block.replace(/\\\n\s*/g, ' ').split('\n')
    .map(l => l.replace(/\s+#.*$/, '').replace(/^#.*$/, '').trim())
    .filter(l => l !== '')
}

afterAll(() => cleanupTempDirs())

describe('the README\'s two phones by hand', () => {
  it('work as written, on loopback, with no discovery on the machine\'s network', async () => {
    const commands = byHandCommands()
    expect(commands.map(c => c.split(' ').slice(0, 3).join(' '))).toEqual([
      'npx ferry seed', 'npx ferry send', 'npx ferry receive', 'npx ferry export', 'npx ferry export'
    ])
    const cwd = tempDir('ferry-readme-')
    const sh = (line: string): ReturnType<typeof spawnSync> =>
      spawnSync('bash', ['-c', PRELUDE + line], { cwd, env: ENV, encoding: 'utf8', timeout: 120_000 })

    // The tiny profile for the README's small one: the steps are the same, the history smaller.
    const seed = sh(commands[0].replace('--profile small', '--profile tiny'))
    expect(seed.status, String(seed.stderr)).toBe(0)

    const sender = spawn('bash', ['-c', PRELUDE + commands[1]], { cwd, env: ENV, stdio: ['ignore', 'ignore', 'pipe'] })
    const senderExit = new Promise<number | null>(resolve => sender.on('close', resolve))
    let senderErr = ''
    try {
      const payload = await new Promise<string>((resolve, reject) => {
        createInterface({ input: sender.stderr }).on('line', line => {
          senderErr += line + '\n'
          if (line.startsWith('ferry://pair?')) resolve(line)
        })
        void senderExit.then(code => reject(new Error(`ferry send exited ${code} before its QR payload:\n${senderErr}`)))
      })
      const receive = sh(commands[2].replace("'ferry://pair?...'", `'${payload}'`))
      expect(receive.status, String(receive.stderr)).toBe(0)
      expect(await senderExit, senderErr).toBe(0)
    } finally {
      sender.kill('SIGKILL')
    }

    const oldExport = sh(commands[3])
    expect(oldExport.status, String(oldExport.stderr)).toBe(0)
    const compare = sh(commands[4])
    expect(compare.status, `${String(compare.stdout)}${String(compare.stderr)}`).toBe(0)
    expect(readFileSync(join(cwd, 'a.ndjson'), 'utf8')).toMatch(/^\{"type":"contact"/)
  }, 180_000)
})
