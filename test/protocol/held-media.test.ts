import { afterEach, describe, expect, it } from 'vitest'
import { appendFileSync, readFileSync, statSync, truncateSync } from 'node:fs'
import { cleanupTempDirs, fillStore, mediaFiles, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer, verifiedTransfer } from '../helpers/transfer.js'
import { hashFile } from '../../src/store/media-folder.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { MediaRecord } from '../../src/store/model.js'

// A file the new phone holds is not fetched again. If it was cut short or grown there since it came (a
// crash while an app wrote it, a full disk, a tool that wrote over it), a later transfer must not call
// it held and say "verified" over it: the old phone, wiped after that, had the good copy.

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const spec = { conversations: 3, messagesPerConversation: 40, mediaSizes: [300_000, 70_000, 5_000] }

/** Two phones after a verified transfer, and the path and size of one of the new phone's files. */
async function moved (): Promise<{ a: SqliteChatStore, b: SqliteChatStore, sha: string, path: string, size: number }> {
  const a = openStore()
  const b = openStore()
  await fillStore(a, spec)
  await verifiedTransfer(a, b)
  const sha = mediaFiles(b).find(s => statSync(b.mediaPath(s)).size === 300_000) as string
  return { a, b, sha, path: b.mediaPath(sha), size: 300_000 }
}

describe('a media file damaged on the new phone', () => {
  it('cut short, is fetched again by the next transfer and whole once it is verified', async () => {
    const { a, b, sha, path, size } = await moved()
    truncateSync(path, 100)
    const again = await runTransfer(a, b)
    expect(again.receiver.state).toBe('verified')
    expect(again.receiver.progress.mediaFilesReceived).toBe(1)
    expect(statSync(path).size).toBe(size)
    expect((await hashFile(path)).sha256).toBe(sha)
  })

  it('grown past its record, is fetched again and replaced', async () => {
    const { a, b, sha, path, size } = await moved()
    appendFileSync(path, 'junk an app wrote past the end')
    const again = await runTransfer(a, b)
    expect(again.receiver.state).toBe('verified')
    expect(again.receiver.progress.mediaFilesReceived).toBe(1)
    expect(readFileSync(path).byteLength).toBe(size)
    expect((await hashFile(path)).sha256).toBe(sha)
  })
})

// A sha256 determines its file's size. An old phone whose record of a file the new phone holds whole says
// another size (its store gone wrong, or a lie) must not rewrite the new phone's record: that record is
// what every later move of the history (a third phone, a backup, an export) sends the file by.
describe('an old phone whose record of a file the new phone holds whole says another size', () => {
  /** The store as a sink without wholeMedia (as the browser's): its listing is trusted. */
  const listingTrusted = (s: SqliteChatStore): SqliteChatStore => new Proxy(s, {
    get: (t, p) => {
      if (p === 'wholeMedia') return undefined
      const v = Reflect.get(t, p, t) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
    }
  })

  for (const checks of ['checks each held file', 'trusts its listing'] as const) {
    it(`leaves the new phone's record true to the file, and a third phone gets it whole (a store that ${checks})`, async () => {
      const { a, b, sha, path, size } = await moved()
      const record = [...a.listMedia()].find(m => m.sha256 === sha) as MediaRecord
      const present = b.stats().mediaBytesPresent
      // The old phone's store now says 1,000 bytes and another type; another file is only retyped there.
      a.putMetadata([], [], [{ ...record, size: 1000, mime: 'application/x-other' }])
      const retyped = [...a.listMedia()].find(m => m.sha256 !== sha) as MediaRecord
      a.putMetadata([], [], [{ ...retyped, mime: 'image/heic' }])

      const again = await verifiedTransfer(a, checks === 'checks each held file' ? b : listingTrusted(b))
      const p = again.receiver.progress
      expect({ held: p.mediaFilesHeld, received: p.mediaFilesReceived, damaged: p.mediaFilesDamaged, missing: p.mediaFilesMissing }).toEqual({ held: 3, received: 0, damaged: 0, missing: 0 })
      // Its bytes as this phone holds them, not as the old phone's record says.
      expect(p.totalMediaBytes).toBe(present)
      expect(p.mediaBytes).toBe(present)
      // The entry that states another size is wrong as a whole: nothing of it is taken. A type alone
      // is the old phone's to change (nothing here tells which is right).
      const records = new Map([...b.listMedia()].map(m => [m.sha256, m]))
      expect(records.get(sha)).toEqual(record)
      expect(records.get(retyped.sha256)?.mime).toBe('image/heic')
      expect(b.stats().mediaBytesPresent).toBe(present)

      const c = openStore()
      const onward = await verifiedTransfer(b, c)
      expect(onward.receiver.progress.mediaFilesDamaged).toBe(0)
      expect(c.stats().mediaMissing).toBe(0)
      expect(statSync(c.mediaPath(sha)).size).toBe(size)
      expect((await hashFile(c.mediaPath(sha))).sha256).toBe(sha)
      expect(readFileSync(path).byteLength).toBe(size)
    })
  }

  it('is not verified over a record the app rewrote while it ran, and the next transfer makes the record true', async () => {
    const { a, b, sha, size } = await moved()
    const record = [...b.listMedia()].find(m => m.sha256 === sha) as MediaRecord
    // A buggy app rewrites the record of a photo this phone holds as the transfer ends.
    const during = await runTransfer(a, b, {
      onReceived: f => { if (f.body === 'done') b.putMetadata([], [], [{ ...record, size: 1000 }]) }
    })
    expect(during.receiver.state).toBe('failed')
    expect(during.receiverError?.code).toBe('COUNT_MISMATCH')
    expect(during.receiverError?.message).toBe(`the record of media ${sha} on this phone says 1000 bytes, where its file is ${size} bytes`)

    const again = await verifiedTransfer(a, b)
    expect(again.receiver.progress.mediaFilesReceived).toBe(1)
    expect([...b.listMedia()].find(m => m.sha256 === sha)).toEqual(record)
    expect((await hashFile(b.mediaPath(sha))).sha256).toBe(sha)
  })
})
