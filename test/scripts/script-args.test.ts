import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface Ran { code: number, stdout: string, stderr: string }

/** Runs an npm script's entry point as `npm run NAME -- args` does, without npm's own output. */
async function script (name: string, args: string[]): Promise<Ran> {
  return await new Promise(resolve => {
    execFile(process.execPath, ['--import', 'tsx', `scripts/${name}.ts`, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stdout, stderr })
    })
  })
}

const SCRIPTS = ['bench', 'chaos', 'fuzz', 'gauntlet'] as const

describe('the npm scripts (bench, chaos, fuzz, gauntlet)', () => {
  it('teach with --help, and refuse an unknown option with exit code 2 and the usage, before doing any work', async () => {
    const runs = await Promise.all(SCRIPTS.flatMap(name => [script(name, ['--help']), script(name, ['--bogus'])]))
    SCRIPTS.forEach((name, i) => {
      const [help, bogus] = [runs[2 * i], runs[2 * i + 1]]
      expect(help.code, `${name} --help`).toBe(0)
      expect(help.stdout).toMatch(new RegExp(`^npm run ${name} -- \\[`))
      expect(help.stdout).toMatch(/Exit code: 0 /)
      expect(bogus.code, `${name} --bogus`).toBe(2)
      expect(bogus.stderr).toContain("Unknown option '--bogus'")
      expect(bogus.stderr).toContain(`npm run ${name} -- [`)
      expect(bogus.stdout).toBe('')
    })
  }, 120_000)

  it('refuse option values that are not what they ask for', async () => {
    const [runs, profile, frames, kinds, rate, loss] = await Promise.all([
      script('bench', ['--runs', '0']),
      script('bench', ['--profile', 'huge']),
      script('fuzz', ['--frames', 'many']),
      script('chaos', ['--kinds', 'kill-receiver,meteor']),
      script('chaos', ['--rate', 'fast']),
      script('bench', ['--loss', ''])
    ])
    expect([runs.code, profile.code, frames.code, kinds.code, rate.code, loss.code]).toEqual([2, 2, 2, 2, 2, 2])
    expect(runs.stderr).toContain('--runs wants an integer of at least 1, not "0"')
    expect(profile.stderr).toContain('no profile is called "huge" (there are tiny, small, medium, large, media, text)')
    expect(frames.stderr).toContain('--frames wants an integer of at least 1, not "many"')
    expect(kinds.stderr).toContain('no interruption is called "meteor"')
    expect(rate.stderr).toContain('--rate wants a number of at least 0.1, not "fast"')
    expect(rate.stdout).toBe('') // refused before it set up a testbed
    expect(loss.stderr).toContain('--loss wants a number of at least 0, not ""')
  }, 120_000)

  it('cpu-top says what is wrong with a file that is no CPU profile, and stops at bad usage', async () => {
    const [missing, dir, json, none] = await Promise.all([
      script('bench/cpu-top', ['no-such.cpuprofile']),
      script('bench/cpu-top', ['scripts']),
      script('bench/cpu-top', ['package.json']),
      script('bench/cpu-top', [])
    ])
    expect([missing.code, dir.code, json.code, none.code]).toEqual([1, 1, 1, 2])
    expect(missing.stderr).toBe('cpu-top: no-such.cpuprofile: no such file\n')
    expect(dir.stderr).toContain('cpu-top: scripts: a directory, not a .cpuprofile')
    expect(json.stderr).toBe('cpu-top: package.json: not a V8 CPU profile (node --cpu-prof writes them)\n')
    expect(none.stderr).toContain('name at least one .cpuprofile file')
    expect(none.stderr).toContain('npx tsx scripts/bench/cpu-top.ts FILE.cpuprofile...')
  }, 60_000)
})
