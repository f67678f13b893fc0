// The long-running fuzzer (USAGE below); `npm test` runs the same harness at small counts.
import '../src/polyfill.js'
import { writeFileSync } from 'node:fs'
import fc from 'fast-check'
import { ReceiverMachine } from '../src/protocol/receiver.js'
import { SenderMachine } from '../src/protocol/sender.js'
import { cleanupTempDirs, fillStore, openStore } from '../test/helpers/stores.js'
import { closeJournals, journalOf } from '../test/helpers/transfer.js'
import {
  byteCase, FUZZ_OPTIONS, makeFixture, receiverCase, receiverFrames, runByteCase, runReceiverCase, runSenderCase, senderCase
} from '../test/fuzz/harness.js'
import type { FerryError } from '../src/errors.js'
import { numberOption, scriptArgs } from './lib/script-args.js'

const USAGE = `npm run fuzz -- [--frames N] [--seed N] [--case I] [--json FILE]

Streams generated frames (test/fuzz/harness.ts) through the frame decoder, the receiver (on a real
SQLite store) and the sender (reading a real seeded store), resetting a machine whenever it fails.

  --frames N    frames to feed in all (default 100000)
  --seed N      seed of the run (default: from the clock; printed, so a run can be replayed)
  --case I      replay case I of --seed N alone
  --json FILE   also write the figures (frames, cases, errors by code, crashes) for the gauntlet

Exit code: 0 no crash, 1 a crash (a non-FerryError or a broken invariant), 2 bad usage.`
const args = scriptArgs(USAGE, {
  frames: { type: 'string' },
  seed: { type: 'string' },
  case: { type: 'string' },
  json: { type: 'string' }
})
const target = numberOption(USAGE, 'frames', args.frames, 100_000, 1)
const seed = numberOption(USAGE, 'seed', args.seed, Date.now() % 2 ** 31)
const only = args.case === undefined ? undefined : numberOption(USAGE, 'case', args.case, 0)
const jsonOut = args.json
const MAX_MESSAGE = FUZZ_OPTIONS.maxMessageBytes as number

const kinds = ['bytes', 'receiver', 'sender'] as const
const sample = <T>(arb: fc.Arbitrary<T>, index: number): T => fc.sample(arb, { numRuns: 1, seed: (seed * 1_000_003 + index) | 0 })[0]

const fx = await makeFixture(openStore as never, fillStore as never)
const store = openStore()
const errors = new Map<string, number>()
const crashes: Array<{ index: number, kind: string, error: unknown }> = []
const note = (e: FerryError | undefined): void => { if (e !== undefined) errors.set(e.code, (errors.get(e.code) ?? 0) + 1) }

let frames = 0
let index = only ?? 0
const t0 = performance.now()
let lastReport = t0
while (only !== undefined ? index === only : frames < target) {
  const kind = kinds[index % kinds.length]
  try {
    if (kind === 'bytes') {
      const out = runByteCase(sample(byteCase, index), fx.corpus.bodies)
      frames += out.frames
      out.errors.forEach(note)
    } else if (kind === 'receiver') {
      const receiver = new ReceiverMachine({ sink: store, journal: journalOf(store), options: FUZZ_OPTIONS })
      receiver.emit = () => {}
      receiver.start()
      // Every other receiver case lies while the phones reconcile (the stream of a transfer into a phone
      // that holds part of the history; the shared store holds whatever earlier cases left).
      const stream = index % 2 === 0 ? fx.corpus.toReceiver : fx.corpus.reconcile
      const out = await runReceiverCase(receiver, receiverFrames(sample(receiverCase, index), fx.corpus, stream), MAX_MESSAGE)
      frames += out.frames
      note(out.error)
    } else {
      const sender = new SenderMachine({ source: fx.source, options: FUZZ_OPTIONS })
      const out = await runSenderCase(sender, sample(senderCase, index), fx.corpus)
      frames += out.frames
      note(out.error)
    }
  } catch (error) {
    crashes.push({ index, kind, error })
    console.error(`CRASH in ${kind} case: reproduce with npm run fuzz -- --seed ${seed} --case ${index}\n`, error)
    if (crashes.length >= 10) break
  }
  index++
  const now = performance.now()
  if (now - lastReport > 5000) { lastReport = now; console.error(`… ${frames} frames, ${Math.round(frames / ((now - t0) / 1000))} frames/s`) }
}

const secs = (performance.now() - t0) / 1000
console.log(`seed ${seed}: ${frames} frames in ${index - (only ?? 0)} cases, ${secs.toFixed(1)} s, ${Math.round(frames / secs)} frames/s`)
console.log('distinct errors:')
for (const [code, n] of [...errors].sort((a, b) => b[1] - a[1])) console.log(`  ${code.padEnd(16)} ${n}`)
console.log(crashes.length === 0 ? 'crashes: none' : `crashes: ${crashes.length} (first: --seed ${seed} --case ${crashes[0].index})`)
if (jsonOut !== undefined) {
  writeFileSync(jsonOut, JSON.stringify({
    seed,
    frames,
    cases: index - (only ?? 0),
    seconds: Number(secs.toFixed(1)),
    framesPerSec: Math.round(frames / secs),
    distinctErrors: errors.size,
    errors: Object.fromEntries([...errors].sort((a, b) => b[1] - a[1])),
    crashes: crashes.length,
    firstCrash: crashes.length === 0 ? undefined : { kind: crashes[0].kind, reproduce: `npm run fuzz -- --seed ${seed} --case ${crashes[0].index}`, error: String((crashes[0].error as Error)?.stack ?? crashes[0].error) }
  }, null, 2) + '\n')
}
await closeJournals()
store.close()
fx.source.close()
fx.other.close()
cleanupTempDirs()
process.exit(crashes.length === 0 ? 0 : 1)
