import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, tempDir } from '../helpers/stores.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { unmount } from '../helpers/tmpfs.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { ErrorCode, isFerryError } from '../../src/errors.js'

// A store whose media folder cannot be written (a disk mounted read-only there, a folder whose rights were
// taken away) while its database can: storing a media file says so in the product's words, with the way
// out, rather than Node's "EROFS: read-only file system, mkdir '…/media/00'". A tmpfs this test mounts
// read-only over media/ stands for it (root only; skipped with the reason otherwise).

const dir = join(tempDir(), 'store')
let mnt: string | undefined

function mediaReadOnly (): string | undefined {
  const s = SqliteChatStore.open(dir, { create: true })
  s.close()
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs'
  // The store's own media folder becomes that file system, as it was: its work folder in it.
  const media = join(dir, 'media')
  rmSync(media, { recursive: true, force: true })
  mkdirSync(media)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', media], { stdio: 'pipe' })
    mnt = media
    mkdirSync(join(media, '.tmp'), { mode: 0o700 })
    execFileSync('mount', ['-o', 'remount,ro', media], { stdio: 'pipe' })
    return undefined
  } catch (err) {
    return `cannot mount tmpfs: ${((err as { stderr?: Buffer }).stderr ?? '').toString().trim() || (err as Error).message}`
  }
}

beforeAll(() => {
  cannotRun('the read-only media folder test', mediaReadOnly())
})

afterAll(() => {
  unmount(mnt)
  cleanupTempDirs()
})

describe('a store whose media folder is read-only', () => {
  it('says where it cannot write and what to do, and its history stays as it was', async () => {
    const store = SqliteChatStore.open(dir)
    try {
      const err = await store.writeMedia((async function * () { yield new Uint8Array(100) })()).then(() => undefined, (e: unknown) => e)
      expect(err).toSatisfy(e => isFerryError(e, ErrorCode.STORE))
      expect((err as Error).message).toBe(`writing media: cannot write in ${join(dir, 'media')} (the file system is read-only). ` +
        'Make the store\'s folder writable for the user that runs Ferry, then try again: what is in the store stays as it is')
      await fillStore(store, { conversations: 1, messagesPerConversation: 3, mediaSizes: [] })
      expect(store.stats().messages).toBe(3)
    } finally {
      store.close()
    }
  })
})
