// The benchmark's CPU accounting of a process tree: a process already running when the watch starts
// (a Chromium launched before its page, a long-lived sshd) counts only what it does from then on.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { watchTree } from '../../scripts/bench/process-tree.js'

// Burns `ms` of its own CPU time (not wall time, user and system: asking for it is a system call) on
// each line read, then says so.
const BURNER = `
const used = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
const burn = ms => { const end = used() + ms; while (used() < end) {} }
burn(400)
process.stdout.write('burnt\\n')
process.stdin.on('data', d => { burn(Number(String(d).trim())); process.stdout.write('burnt\\n') })
`

describe('watchTree', () => {
  it('counts a process that was already there from the watch\'s start, and what it does after', async () => {
    // A shell whose child does the work: the child is below the watched root, there before the watch.
    // (`; :` keeps sh from replacing itself with node.)
    const shell = spawn('sh', ['-c', '"$0" -e "$1"; :', process.execPath, BURNER], { stdio: ['pipe', 'pipe', 'inherit'] })
    try {
      const lines = shell.stdout.setEncoding('utf8')
      const burnt = async (): Promise<void> => {
        for (;;) {
          const [chunk] = await once(lines, 'data') as [string]
          if (chunk.includes('burnt')) return
        }
      }
      await burnt() // 400 ms of CPU spent before the watch
      const watch = watchTree([shell.pid as number])
      shell.stdin.write('300\n')
      await burnt() // 300 ms more, watched
      const sec = watch.cpuSec()
      expect(sec).toBeGreaterThanOrEqual(0.25)
      expect(sec).toBeLessThan(0.6) // the 400 ms before the watch are not in it
    } finally {
      shell.kill('SIGKILL')
    }
  }, 30_000)
})
