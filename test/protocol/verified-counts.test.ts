import { afterEach, expect, it } from 'vitest'
import type { Frame } from '../../src/wire/codec.js'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, verifiedTransfer } from '../helpers/transfer.js'

// The old phone reports the whole transfer's counts as the new phone said them in its Verified, so both
// phones say the same. The new phone is the other party: counts that do not fit what the old phone
// offered are not repeated as the old phone's own report.

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

async function phones (): Promise<{ source: ReturnType<typeof openStore>, target: ReturnType<typeof openStore> }> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 40, mediaSizes: [1000, 70_000] })
  return { source, target: openStore() }
}

/** The receiver's Verified as the sender hears it, its counts changed by `change`. */
const saying = (change: (v: NonNullable<Frame['verified']>) => void) => (f: Frame): Frame => {
  if (f.body !== 'verified' || f.verified == null) return f
  const verified = { ...f.verified }
  change(verified)
  return { ...f, verified } as Frame
}

it('takes the new phone\'s whole-transfer counts when they fit the manifest', async () => {
  const { source, target } = await phones()
  const run = await verifiedTransfer(source, target, { options: OPTIONS })
  expect(run.sender.verifiedCounts).toEqual({ messagesSent: 120, messagesHeld: 0, mediaFilesSent: 2, mediaBytesSent: 71_000, mediaFilesHeld: 0 })
})

it('does not repeat counts past what it offered: absurd, or more files than the manifest lists', async () => {
  for (const change of [
    (v: NonNullable<Frame['verified']>) => { v.messagesSent = 1.8e19 },
    (v: NonNullable<Frame['verified']>) => { v.mediaHeld = 3 },
    (v: NonNullable<Frame['verified']>) => { v.mediaBytesSent = 71_001 },
    (v: NonNullable<Frame['verified']>) => { v.messagesHeld = 1 }
  ]) {
    const { source, target } = await phones()
    const run = await verifiedTransfer(source, target, { options: OPTIONS, senderHears: saying(change) })
    expect(run.sender.verifiedCounts).toBeUndefined()
  }
})
