// The test set-up step, run by `npm test` before the tests (its `pretest` script): makes sure the
// system tools the tests drive are here (scripts/lib/test-tools.ts lists them), installing the
// missing ones with apt-get when it runs as root. Exit code 1 only under CI=true, when a tool cannot be
// provided (or the run is not root); elsewhere it prints what is missing and the suites skip.
import { execFile } from 'node:child_process'
import { inCI } from './lib/ci.js'
import { onPath, setUpTools } from './lib/test-tools.js'

const aptGet = async (args: string[]): Promise<void> => {
  await new Promise<void>((resolve, reject) => {
    execFile('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err === null) resolve()
      else reject(new Error(`apt-get ${args.join(' ')}: ${stderr.trim().split('\n').slice(-5).join('\n') || err.message}`))
    })
  })
}

process.exitCode = await setUpTools({
  host: { platform: process.platform, root: process.getuid?.() === 0, aptGet: onPath('apt-get'), ci: inCI() },
  present: tool => onPath(tool.command),
  aptGet,
  say: line => { process.stderr.write(`${line}\n`) }
})
