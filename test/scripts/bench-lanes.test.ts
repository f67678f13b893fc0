// `npm run bench`'s comparison lanes (rsync over ssh, tar | socat, the browser phone) beside Ferry on
// the tiny profile: they run end to end, report the user's clock in a sane shape, leave nothing
// behind (also when interrupted), and a missing tool is named clearly. No figure is judged: timing
// is never a pass/fail criterion.
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import type { LaneSummary } from '../../scripts/bench/user-clock.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const dirs: string[] = []
const fresh = (prefix: string): string => { const d = mkdtempSync(join(tmpdir(), prefix)); dirs.push(d); return d }
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

interface Ran { code: number, stdout: string, stderr: string }

async function bench (args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 240_000): Promise<Ran> {
  return await script('scripts/bench.ts', args, env, timeout)
}

/** One of the repository's scripts, run through tsx from its root. */
async function script (file: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 240_000): Promise<Ran> {
  return await new Promise(resolve => {
    execFile(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, timeout, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stdout, stderr })
    })
  })
}

/** One round of `lanes` on the tiny profile, into receivers' folders of its own; fails unless it succeeded. */
async function tinyRound (lanes: string): Promise<{ report: ReturnType<typeof JSON.parse>, run: Ran, targets: string }> {
  const targets = fresh('ferry-bench-test-targets-')
  const json = join(fresh('ferry-bench-test-'), 'bench.json')
  const run = await bench(['--profile', 'tiny', '--runs', '1', '--lanes', lanes, '--tmp', targets, '--json', json])
  expect(run.code, run.stderr).toBe(0)
  return { report: JSON.parse(readFileSync(json, 'utf8')), run, targets }
}

/** Processes whose command line mentions `needle` (the benchmark's temp dirs are named ferry-bench-*). */
function processesMentioning (needle: string): Array<{ pid: number, cmd: string }> {
  const out: Array<{ pid: number, cmd: string }> = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ')
      if (cmd.includes(needle)) out.push({ pid: Number(p), cmd })
    } catch {}
  }
  return out
}

function bytesUnder (p: string): number {
  const st = statSync(p)
  return st.isDirectory() ? readdirSync(p).reduce((n, e) => n + bytesUnder(join(p, e)), 0) : st.size
}

describe('npm run bench: the lanes on the user\'s clock', () => {
  it('runs ferry, rsync, rsync --fsync, tar | socat and the browser phone end to end, and reports each alike', async () => {
    const out = fresh('ferry-bench-test-')
    const targets = fresh('ferry-bench-test-targets-')
    const json = join(out, 'bench.json')
    // Its own temp folder, where its sshd's config lives: what is left of it is this run's, not another
    // benchmark's on the same machine.
    const tmp = fresh('ferry-bench-test-tmp-')
    const run = await bench(['--profile', 'tiny', '--runs', '1', '--lanes', 'ferry,rsync,rsync-fsync,tar-socat,browser', '--tmp', targets, '--json', json], { ...process.env, TMPDIR: tmp })
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(readFileSync(json, 'utf8'))
    expect(JSON.parse(run.stdout)).toEqual(report)
    expect(report.lanes).toEqual(['ferry', 'rsync', 'rsync-fsync', 'tar-socat', 'browser'])
    expect(report.roundOrders).toHaveLength(1)

    // Every MB/s counts the same bytes: the source store's history.db and media/, as on disk.
    const source = join(ROOT, '.tmp', 'bench', 'tiny-1')
    const uc = report.userClock
    expect(uc.storeBytes).toBe(bytesUnder(join(source, 'history.db')) + bytesUnder(join(source, 'media')))
    const lanes = uc.lanes as Record<string, LaneSummary>
    expect(Object.keys(lanes).sort()).toEqual(['browser', 'ferry', 'rsync', 'rsync-fsync', 'tar-socat'])
    for (const [name, s] of Object.entries(lanes)) {
      expect(s.runs, name).toBe(1)
      expect(s.userMs, name).toBeGreaterThan(0)
      expect(s.perRound.userMs, name).toEqual([s.userMs])
      // MB/s is the store's bytes over the user's clock, whatever the lane.
      // The user's clock is reported in whole ms and MB/s to a tenth: a fast lane's MB/s may differ by a
      // half millisecond's worth from the one computed back from the rounded clock.
      const mbps = (ms: number): number => uc.storeBytes / 1e6 / (ms / 1000)
      expect(s.MBPerSec, name).toBeGreaterThanOrEqual(mbps(s.userMs + 0.5) - 0.05)
      expect(s.MBPerSec, name).toBeLessThanOrEqual(mbps(s.userMs - 0.5) + 0.05)
      for (const side of ['sender', 'receiver'] as const) {
        expect(s.cpuSec[side], `${name} ${side} cpu`).toBeGreaterThanOrEqual(0)
        // tar | socat may be over on the tiny profile before /proc was sampled: 0 says "not seen".
        expect(s.peakRssMiB[side], `${name} ${side} rss`).toBeGreaterThanOrEqual(name === 'tar-socat' ? 0 : 1)
      }
      for (const [phase, ms] of Object.entries(s.phasesMs)) {
        expect(ms, `${name} ${phase}`).toBeGreaterThanOrEqual(0)
        expect(ms, `${name} ${phase}`).toBeLessThanOrEqual(s.userMs)
      }
    }
    // Ferry's milestones come in the order a person sees them, and the last exit ends the clock.
    const f = lanes.ferry.phasesMs
    const order = [f.codeMs, f.pairedMs, f.manifestMs, f.chatsReadyMs, f.verifiedMs]
    expect(order).toEqual([...order].sort((a, b) => a - b))
    expect(Math.max(f.senderExitMs, f.receiverExitMs)).toBe(lanes.ferry.userMs)
    expect(lanes.ferry.extra?.exitAfterVerifiedMs).toBeCloseTo(lanes.ferry.userMs - f.verifiedMs, -1)
    // The browser phone: timed by the page, with its heap after a forced collection.
    const b = lanes.browser.extra as Record<string, number>
    expect(b.pageMs).toBeGreaterThan(0)
    expect(b.pageMs).toBeLessThanOrEqual(lanes.browser.userMs)
    expect(b.messagesPerSec).toBeCloseTo(report.bytes.messages / (b.pageMs / 1000), 0)
    expect(b.jsHeapAfterGcMiB).toBeGreaterThan(0)
    expect(b.chromiumProcesses).toBeGreaterThan(1)
    // Ratios within the run, Ferry against every other lane.
    for (const k of ['ferryOverRsync', 'ferryOverRsyncFsync', 'ferryOverTarSocat', 'ferryOverBrowser']) {
      expect(uc.ratios[k].median, k).toBeCloseTo(lanes[{ ferryOverRsync: 'rsync', ferryOverRsyncFsync: 'rsync-fsync', ferryOverTarSocat: 'tar-socat', ferryOverBrowser: 'browser' }[k] as string].userMs / lanes.ferry.userMs, 1)
      expect(uc.ratios[k].perRound, k).toHaveLength(1)
    }
    expect(report.receivingFilesystem).toMatch(/\w/)
    // The person reading the terminal gets the table.
    expect(run.stderr).toMatch(/The user's clock, tiny profile/)
    expect(run.stderr).toMatch(/^rsync-fsync\s+\d/m)
    // Nothing left: no sshd, no receiving store, no temp dir of the benchmark's.
    expect(readdirSync(targets)).toEqual([])
    expect(processesMentioning(tmp)).toEqual([])
    // (tsx keeps its compile cache there too: that one is tsx's to keep.)
    expect(readdirSync(tmp).filter(f => !f.startsWith('tsx-'))).toEqual([])
  }, 300_000)

  it('runs the in-process engine and the bare pairs (libp2p, a raw socket, libp2p carrying the media files) alike', async () => {
    const { report, targets } = await tinyRound('engine,bare-libp2p,raw-socket,libp2p-files')
    expect(report.engineInMemory.runs).toBe(1)
    expect(report.engineInMemory.errors).toBeUndefined()
    expect(report.engineInMemory.messagesPerSec).toBeGreaterThan(0)
    for (const k of ['bareLibp2p', 'rawSocket', 'libp2pWithFiles']) expect(report[k]?.MBPerSec, k).toBeGreaterThan(0)
    // The files lane stored every media file of the source, each checked against its name.
    const media = join(ROOT, '.tmp', 'bench', 'tiny-1', 'media')
    const files = readdirSync(media, { recursive: true, withFileTypes: true }).filter(e => e.isFile() && /^[0-9a-f]{64}$/.test(e.name)).length
    expect(files).toBeGreaterThan(0)
    expect(report.libp2pWithFiles.files).toBe(files)
    expect(Object.keys(report.userClock.lanes).sort()).toEqual(['bare-libp2p', 'libp2p-files', 'raw-socket'])
    expect(readdirSync(targets)).toEqual([])
  }, 300_000)

  it('sets libp2p\'s own WebRTC beside Ferry\'s, and names the threads each phone kept busy', async () => {
    const { report, run, targets } = await tinyRound('ferry-webrtc,bare-libp2p-webrtc,bare-libp2p-browser')
    // The bare pair moved exactly the bytes Ferry's sender writes (its reader counts to that and no further).
    expect(report.bareLibp2pWebrtc.MBPerSec).toBeGreaterThan(0)
    expect(report.ratios.ferryWebrtcOverBareWebrtc).toBeCloseTo(report.twoPhonesWebrtc.MBPerSec / report.bareLibp2pWebrtc.MBPerSec, 1)
    // The same bytes into a page on the browser phone's libp2p stack, with Chromium's CPU for them.
    expect(report.bareLibp2pBrowser.MBPerSec).toBeGreaterThan(0)
    expect(report.bareLibp2pBrowser.cpuSec.chromium).toBeGreaterThanOrEqual(0)
    expect(report.bareLibp2pBrowser.cpuSec.writer).toBeGreaterThan(0)
    expect(Object.keys(report.userClock.lanes).sort()).toEqual(['bare-libp2p-browser', 'bare-libp2p-webrtc', 'ferry-webrtc'])
    // Both phones' threads, busiest first, each named (main: the JS thread). The tiny history is too
    // little for libdatachannel's threads to register a clock tick, so they are not asked for here.
    const threads = report.twoPhonesWebrtc.threadsFirstRound as Record<'sender' | 'receiver', Array<{ name: string, cpuSec: number }>>
    for (const side of ['sender', 'receiver'] as const) {
      expect(threads[side].find(t => t.name === 'main')?.cpuSec, side).toBeGreaterThan(0)
      for (const t of threads[side]) expect(t.name, side).toMatch(/\S/)
      const secs = threads[side].map(t => t.cpuSec)
      expect(secs, side).toEqual([...secs].sort((a, b) => b - a))
    }
    expect(run.stderr).toMatch(/^bare-libp2p-webrtc\s+\d/m)
    expect(readdirSync(targets)).toEqual([])
  }, 300_000)

  it('prices storing media in Chromium: IndexedDB as the browser phone writes it, as Blobs, and the OPFS from a worker', async () => {
    const run = await script('scripts/bench/browser-storage.ts', ['--mb', '32', '--runs', '1', '--json'], process.env, 120_000)
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout) as { summary: Array<{ way: string, MBPerSec: number, cpuMsPerMB: number, putMsPerMB: number, rounds: unknown[] }> }
    expect(report.summary.map(s => s.way)).toEqual(['idb', 'idb-blob', 'idb-1', 'opfs'])
    for (const s of report.summary) {
      expect(s.rounds, s.way).toHaveLength(1)
      expect(s.MBPerSec, s.way).toBeGreaterThan(0)
      // Chromium's own processes did the writing: some CPU, counted from the round's start only.
      expect(s.cpuMsPerMB, s.way).toBeGreaterThan(0)
      // The page's own time in put(): some for IndexedDB, none for the OPFS, which has no put().
      if (s.way === 'opfs') expect(s.putMsPerMB).toBe(0)
      else expect(s.putMsPerMB, s.way).toBeGreaterThan(0)
    }
  }, 120_000)

  it('stops its sshd and every lane\'s processes, and removes their files, when interrupted with Ctrl-C', async () => {
    const targets = fresh('ferry-bench-test-targets-')
    const tmp = fresh('ferry-bench-test-tmp-')
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', '--profile', 'tiny', '--runs', '5', '--lanes', 'rsync,rsync-fsync,tar-socat', '--tmp', targets],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>(resolve => { child.on('close', code => { resolve(code) }) })
    // The benchmark's own sshd: a child of the benchmark with a config in its temp dir.
    let sshd: { pid: number, cmd: string } | undefined
    while (sshd === undefined) {
      sshd = processesMentioning(join(tmp, 'ferry-bench-sshd-')).find(p => / -D -e -f /.test(p.cmd) && readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(child.pid))
      if (sshd === undefined) {
        if (child.exitCode !== null) throw new Error(`the benchmark ended before its sshd was seen: ${stderr}`)
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    }
    const config = /-f (\S+)/.exec(sshd.cmd)?.[1] as string
    expect(statSync(config).isFile()).toBe(true)
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    expect(stderr).toContain('SIGINT: stopping children, removing temp dirs')
    expect(processesMentioning(tmp)).toEqual([])
    expect(processesMentioning(targets)).toEqual([])
    expect(() => statSync(config)).toThrow(/ENOENT/)
    expect(readdirSync(targets)).toEqual([])
  }, 120_000)

  it('names a missing tool, its package and the way out, before doing any work', async () => {
    // An empty PATH hides rsync and ssh (sshd is looked for in /usr/sbin too); --no-install forbids apt-get.
    const run = await bench(['--profile', 'tiny', '--lanes', 'rsync', '--no-install'], { ...process.env, PATH: fresh('ferry-bench-empty-path-') }, 60_000)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('missing: rsync (package rsync, for the rsync lanes)')
    expect(run.stderr).toMatch(/apt-get install rsync openssh-client/)
    expect(run.stderr).toContain('--lanes')
    expect(run.stderr).not.toMatch(/^\s+at /m) // a message, not a stack trace
    expect(run.stderr).not.toContain('seeding')
    expect(run.stdout).toBe('')
  }, 60_000)

  it('moves a history of one\'s own (--store) whole, beside rsync and another lane, where every path has a space, and leaves it as it was', async () => {
    // The store, the receivers' directory and the temp dir (the sshd's keys and config) all under paths
    // with spaces: sshd_config, ssh's -o options and rsync's -e split on them unless quoted.
    const dir = join(fresh('ferry-bench-own-'), 'my history')
    const ferryCli = async (args: string[]): Promise<string> => await new Promise((resolve, reject) => {
      execFile(process.execPath, [join(ROOT, 'bin/ferry.js'), ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => { if (err !== null) reject(err); else resolve(stdout) })
    })
    await ferryCli(['seed', '--store', dir, '--profile', 'tiny', '--seed', '7'])
    const before = await ferryCli(['export', '--store', dir])
    const targets = fresh('ferry-bench-own targets-')
    const tmp = fresh('ferry-bench-own tmp-')
    const json = join(fresh('ferry-bench-own-out-'), 'bench.json')
    const run = await bench(['--store', dir, '--runs', '1', '--lanes', 'ferry,rsync,tar-socat', '--tmp', targets, '--json', json], { ...process.env, TMPDIR: tmp })
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(readFileSync(json, 'utf8'))
    expect(report.store).toBe(dir)
    expect(report.profile).toBeUndefined()
    // Every message of that store crossed, and the MB/s count its own history.db and media/.
    expect(report.bytes.messages).toBe(before.split('\n').filter(l => l.startsWith('{"type":"message"')).length)
    expect(report.userClock.storeBytes).toBe(bytesUnder(join(dir, 'history.db')) + bytesUnder(join(dir, 'media')))
    expect(Object.keys(report.userClock.lanes).sort()).toEqual(['ferry', 'rsync', 'tar-socat'])
    expect(run.stderr).toContain(`The user's clock, the store ${dir} (`)
    // The history is as it was (only the sender's journal and key were written, as on a phone).
    expect(await ferryCli(['export', '--store', dir])).toBe(before)
    expect(readdirSync(targets)).toEqual([])
    // (tsx keeps its compile cache there too.)
    expect(readdirSync(tmp).filter(n => n.startsWith('ferry-bench-'))).toEqual([])
  }, 120_000)

  it('says in one message which lane failed and what it printed, and leaves nothing behind', async () => {
    // An rsync that refuses: the lane fails after the sshd started and the store was seeded.
    const bin = fresh('ferry-bench-bin-')
    writeFileSync(join(bin, 'rsync'), '#!/bin/sh\necho "rsync: refused by this test" >&2\nexit 12\n', { mode: 0o755 })
    const tmp = fresh('ferry-bench-failing-tmp-')
    const run = await bench(['--profile', 'tiny', '--runs', '1', '--lanes', 'rsync'], { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, TMPDIR: tmp })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('the benchmark failed: rsync exited 12: rsync: refused by this test')
    expect(run.stderr).not.toMatch(/^\s+at /m) // a message, not a stack trace
    expect(processesMentioning(tmp)).toEqual([])
    // (tsx keeps its compile cache there too.)
    expect(readdirSync(tmp).filter(n => n.startsWith('ferry-bench-'))).toEqual([])
  }, 120_000)

  it('refuses a --store that is no Ferry store, or that comes with a profile, before any work', async () => {
    const empty = fresh('ferry-bench-not-a-store-')
    const [none, notStore, both] = await Promise.all([
      bench(['--store', join(empty, 'absent')]),
      bench(['--store', empty]),
      bench(['--store', empty, '--profile', 'tiny'])
    ])
    expect([none.code, notStore.code, both.code]).toEqual([2, 2, 2])
    expect(none.stderr).toContain(`--store: ${join(empty, 'absent')} does not exist`)
    expect(notStore.stderr).toContain(`--store: ${empty} holds no history.db, so it is no Ferry store; make one from a chat export with \`ferry import EXPORT --store ${empty}\``)
    expect(both.stderr).toContain('--store brings its own history: it goes without --profile and --seed')
    expect(none.stdout + notStore.stdout + both.stdout).toBe('')
  }, 60_000)

  it('refuses an unknown lane, and the lanes that cannot run between namespaces with --wifi', async () => {
    const [bogus, wifi] = await Promise.all([bench(['--lanes', 'ferry,carrier-pigeon']), bench(['--wifi', '--lanes', 'ferry,rsync'])])
    expect([bogus.code, wifi.code]).toEqual([2, 2])
    expect(bogus.stderr).toContain('--lanes: no lane is called "carrier-pigeon" (there are engine, ferry, ferry-webrtc, bare-libp2p, bare-libp2p-webrtc, raw-socket, libp2p-files, rsync, rsync-fsync, tar-socat, browser, bare-libp2p-browser)')
    expect(wifi.stderr).toContain('--lanes: rsync cannot run with --wifi')
    expect(bogus.stdout + wifi.stdout).toBe('')
  }, 60_000)
})
