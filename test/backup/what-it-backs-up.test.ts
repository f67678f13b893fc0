import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { closeJournals, interruptedSession, verifiedTransfer } from '../helpers/transfer.js'
import { ferry, jsonLines } from '../helpers/ferry-sync.js'

// `ferry backup` of a store that holds no history, or only part of one a transfer is still bringing:
// either would pass for a backup of the phone. The first is refused, the second said.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterAll(async () => { await closeJournals(); cleanupTempDirs() })

describe('ferry backup of a store with nothing in it', () => {
  it('is refused in words, and writes no file', () => {
    const empty = tempDir('empty')
    openStore(empty).close()
    const out = join(tempDir(), 'chats.ferrybak')
    const r = ferry('backup', '--store', empty, '--out', out, '--no-password')
    expect(r.stderr).toBe(`ferry: the store ${empty} holds no message: nothing to back up (is it the phone's store? ferry inspect shows what a store holds) [BAD_INPUT]\n`)
    expect(r.status).toBe(2)
    expect(existsSync(out)).toBe(false)
  })
})

describe('ferry backup of a store an incoming transfer is still filling', () => {
  it('writes the backup and says the transfer is not verified yet; once it is, says nothing of it', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 2, messagesPerConversation: 40, mediaSizes: [200_000, 150_000] })
    const target = openStore()
    const { receiver } = await interruptedSession(source, target, { at: 'chunk', cut: true, options: OPTIONS })
    expect(receiver.state).not.toBe('verified')
    await closeJournals()
    target.close()
    const out = join(tempDir(), 'chats.ferrybak')
    const r = ferry('backup', '--store', target.dir, '--out', out, '--no-password', '--json')
    expect(r.status, r.stderr).toBe(0)
    const warnings = jsonLines(r.stdout).filter(e => e.event === 'warning')
    expect(warnings.map(w => w.warning)).toEqual(['no-password', 'media-missing', 'transfer-unverified'])
    expect(r.stderr).toContain('warning: an incoming transfer into this store is not verified yet (still running, or stopped part-way), ' +
      'so the backup holds only what had arrived, unchecked: back up once it is verified (ferry inspect shows it).\n')
    // The transfer carried on to its verified end: the same backup has nothing of it to say.
    const again = openStore(target.dir)
    await verifiedTransfer(source, again, { options: OPTIONS })
    await closeJournals()
    again.close()
    source.close()
    const after = ferry('backup', '--store', target.dir, '--out', out, '--no-password', '--json')
    expect(after.status, after.stderr).toBe(0)
    expect(jsonLines(after.stdout).filter(e => e.event === 'warning').map(w => w.warning)).toEqual(['no-password'])
  })
})
