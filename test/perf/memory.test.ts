import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openStore, tempDir, cleanupTempDirs } from '../helpers/stores.js'
import { killAll, newStorePath, senderReady, startReceiver, startSender, type FerryProcess } from '../e2e/helpers/ferry-cli.js'
import { seedStore } from '../../src/sim/seed.js'
import { PROFILES, type Profile } from '../../src/sim/profiles.js'
import { cannotRun } from '../helpers/cannot-run.js'

// Memory stays bounded: the peak RSS of `ferry send` and `ferry receive` (VmHWM, the kernel's high-water
// mark, read from /proc while they run) grows by a bounded amount from a tiny history to one with 67x
// the messages and 100x the media bytes, including a single 64 MB video that nothing may hold whole.
// Not the medium profile: seeding and moving its 1 GB take a minute or more on the 2-core CI machine;
// this set (20,000 messages, 150 MB) takes ~15 s. Time is not asserted anywhere.
//
// The bounds: the processes cost ~130 MiB idle (node, tsx, libp2p; a bare libp2p stream peaks at
// 155-170 MiB), and V8 frees dead Buffers (media chunks, ciphertexts) only when a GC runs, which
// external memory forces every 64 MiB: so ~60 MiB of growth is the floor with default V8 flags (see
// docs/performance.md). A file buffered whole would add its 64 MB on top and fail the growth bound.

const MiB = 1024 * 1024

/** A bigger phone than `small`, with one large file so a whole-file buffer anywhere would show. */
const BIG: Profile = {
  ...PROFILES.small,
  messages: 20_000,
  mediaBytes: 150 * 1_000_000,
  largestVideoBytes: 64 * 1_000_000,
  purpose: 'memory test'
}

/** The process's peak RSS in MiB, sampled until it exits (VmHWM only grows, so the last read is the peak). */
function watchPeak (p: FerryProcess): () => number {
  let peak = 0
  const read = (): void => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid as number}/status`, 'utf8'))
      if (m !== null) peak = Math.max(peak, Number(m[1]) * 1024 / MiB)
    } catch {} // gone: the last sample stands
  }
  const t = setInterval(read, 25)
  read()
  void p.exited.then(() => clearInterval(t))
  return () => peak
}

async function seeded (profile: Profile | 'tiny'): Promise<string> {
  const dir = join(tempDir('ferry-mem-'), 'phone')
  const s = openStore(dir)
  try {
    await seedStore(s, profile, 5)
  } finally {
    s.close()
  }
  return dir
}

interface Peaks { sender: number, receiver: number, messages: number }

async function transfer (source: string): Promise<Peaks> {
  const sender = startSender(source)
  const senderPeak = watchPeak(sender)
  const { qr } = await senderReady(sender)
  const receiver = startReceiver(newStorePath(), { qr })
  const receiverPeak = watchPeak(receiver)
  const verified = await receiver.waitEvent('verified', 120_000)
  expect((await receiver.waitExit(30_000)).code).toBe(0)
  expect((await sender.waitExit(30_000)).code).toBe(0)
  const progress = verified.progress as { messages: number }
  return { sender: senderPeak(), receiver: receiverPeak(), messages: progress.messages }
}

const skip = cannotRun('the peak memory tests', process.platform === 'linux' ? undefined : `they read /proc/<pid>/status, which ${process.platform} does not have`)

describe.skipIf(skip)('peak memory of the two phones', () => {
  let tiny: string
  let big: string
  beforeAll(async () => {
    ;[tiny, big] = [await seeded('tiny'), await seeded(BIG)]
  }, 60_000)
  afterEach(async () => { await killAll() })
  afterAll(() => { cleanupTempDirs() })

  it('stays bounded from a tiny history to 20,000 messages and 150 MB of media', async () => {
    const small = await transfer(tiny)
    const large = await transfer(big)
    expect(small.messages).toBe(PROFILES.tiny.messages)
    expect(large.messages).toBe(BIG.messages)
    console.log(`peak RSS (MiB): tiny send ${small.sender.toFixed(0)} / receive ${small.receiver.toFixed(0)}; ` +
      `20k messages + 150 MB send ${large.sender.toFixed(0)} / receive ${large.receiver.toFixed(0)}`)
    // What the data adds on top of the process's fixed cost.
    expect(large.sender - small.sender).toBeLessThan(96)
    expect(large.receiver - small.receiver).toBeLessThan(96)
    expect(large.sender).toBeLessThan(256)
    expect(large.receiver).toBeLessThan(256)
  }, 90_000)
})
