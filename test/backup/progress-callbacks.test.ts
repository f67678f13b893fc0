// A backup's and a restore's onProgress only tell the app how far they got: one that throws is the
// app's bug, not the store failing (writeBackup said STORE "writing the backup ...", and wrote
// nothing) nor a link lost (restoreBackup said TRUNCATED "connection lost" in a restore from a file).
// It is logged as an error, and the backup or restore goes on to the end. Real SQLite stores and files.
import { join } from 'node:path'
import { enable } from '@libp2p/logger'
import { afterAll, describe, expect, it } from 'vitest'
import { openBackup, restoreBackup, writeBackup } from '../../src/backup/backup.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { loggedPhones } from '../helpers/logged-phones.js'
import { cleanupTempDirs, fillStore, openStore, tempDir } from '../helpers/stores.js'

afterAll(() => cleanupTempDirs())

describe('an onProgress that throws', () => {
  const { captureStderr, stopCapture } = loggedPhones([])

  it('in a backup and in its restore ends neither: both finish whole, and each failure is logged', async () => {
    enable('ferry:backup:error')
    const lines = captureStderr()
    const dir = tempDir('progress-callbacks-')
    const store = openStore(join(dir, 'phone'))
    const journal = NodeJournal.open(join(dir, 'new'))
    const dest = openStore(join(dir, 'new'))
    try {
      // A media file over 4 MiB: the backup reports progress at least once.
      await fillStore(store, { conversations: 1, messagesPerConversation: 10, mediaSizes: [6e6] })
      const out = join(dir, 'chats.ferrybak')
      const written = await writeBackup(store, out, { onProgress: () => { throw new TypeError('the progress bar is gone') } })
      expect(written.progress).toMatchObject({ messagesSent: 10, mediaFilesSent: 1 })
      const restored = await restoreBackup(dest, journal, await openBackup(out), { onProgress: async () => { throw new TypeError('the restore screen is gone') } })
      expect(restored.receiver.state).toBe('verified')
      expect(dest.stats()).toMatchObject({ messages: 10, mediaPresent: 1 })
    } finally {
      stopCapture()
      store.close()
      dest.close()
      await journal.close()
    }
    expect(lines.some(l => l.includes('ferry:backup:error the app\'s onProgress threw: the progress bar is gone (ignored: Ferry goes on)'))).toBe(true)
    expect(lines.some(l => l.includes('ferry:backup:error the app\'s onProgress rejected: the restore screen is gone (ignored: Ferry goes on)'))).toBe(true)
  }, 60_000)
})
