// Long-running fuzzer: `npm run fuzz -- --frames 1000000 [--seed N] [--case I] [--json FILE]`. Streams the generators of
// test/fuzz/harness.ts through the frame decoder, the receiver (on a real SqliteChatStore) and the sender
// (reading a real seeded store), resetting a machine whenever it fails. Case i draws from seed (N, i), so
// `--seed N --case i` replays one case. Exits 1 on any crash (a non-FerryError or a broken invariant).
// --json FILE also writes the figures (frames, cases, distinct errors with counts, crashes) for the gauntlet.
import '../src/polyfill.js'
import { writeFileSync } from 'node:fs'
import fc from 'fast-check'
import { ReceiverMachine } from '../src/protocol/receiver.js'
import { SenderMachine } from '../src/protocol/sender.js'
import { cleanupTempDirs, fillStore, openStore } from '../test/helpers/stores.js'
import {
  byteCase, FUZZ_OPTIONS, makeFixture, receiverCase, receiverFrames, runByteCase, runReceiverCase, runSenderCase, senderCase
} from '../test/fuzz/harness.js'
import type { FerryError } from '../src/errors.js'

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const target = Number(arg('frames') ?? 100_000)
const seed = Number(arg('seed') ?? Date.now() % 2 ** 31)
const only = arg('case') === undefined ? undefined : Number(arg('case'))
const jsonOut = arg('json')
const MAX_MESSAGE = FUZZ_OPTIONS.maxMessageBytes as number

const kinds = ['bytes', 'receiver', 'sender'] as const
const sample = <T>(arb: fc.Arbitrary<T>, index: number): T => fc.sample(arb, { numRuns: 1, seed: (seed * 1_000_003 + index) | 0 })[0]

const fx = await makeFixture(openStore, fillStore as never)
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
      const receiver = new ReceiverMachine({ store, options: FUZZ_OPTIONS })
      receiver.start()
      const out = await runReceiverCase(receiver, receiverFrames(sample(receiverCase, index), fx.corpus), MAX_MESSAGE)
      frames += out.frames
      note(out.error)
    } else {
      const sender = new SenderMachine({ source: fx.source, options: FUZZ_OPTIONS })
      const out = runSenderCase(sender, sample(senderCase, index), fx.corpus)
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
store.close()
fx.source.close()
fx.other.close()
cleanupTempDirs()
process.exit(crashes.length === 0 ? 0 : 1)
