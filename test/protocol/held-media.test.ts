import { afterEach, describe, expect, it } from 'vitest'
import { appendFileSync, readFileSync, statSync, truncateSync } from 'node:fs'
import { cleanupTempDirs, fillStore, mediaFiles, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer, verifiedTransfer } from '../helpers/transfer.js'
import { hashFile } from '../../src/store/media-folder.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'

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
