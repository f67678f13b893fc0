import { readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fsyncDir, replaceFileDurably } from '../durable-fs.js'
import { PRIVATE_FILE_MODE } from '../private-files.js'
import { isHashHex } from '../hash-hex.js'

// The media files a writer is about to add whose records are not committed yet (an import's, inside its
// one transaction), listed on disk before the first of them is written. A process killed before its
// records commit (SIGKILL, a power cut) runs no cleanup of its own: the files it had written would stay
// in the store, complete, named by no record, counted by nothing. The list lets the next writer of the
// store find them (SqliteChatStore.open), and remove those that no record names by then.

const NAME = 'adding'

export class AddingList {
  private readonly path: string

  /** `dir`: a folder inside the store that only its writer uses (the media folder's .tmp). */
  constructor (private readonly dir: string) {
    this.path = join(dir, NAME)
  }

  /**
   * Adds `shas` to the list, on disk (synced) when this returns: a file listed after its bytes were
   * renamed into place could be found by no one.
   */
  add (shas: readonly string[]): void {
    if (shas.length === 0) return
    const all = new Set([...this.read(), ...shas])
    replaceFileDurably(this.path, [...all].join('\n') + '\n', PRIVATE_FILE_MODE)
    // The folder was made when the store was opened, its entry never synced: a power cut could lose it, list and all.
    fsyncDir(dirname(this.dir))
  }

  /** The listed sha256s (none when there is no list; a line that is no sha256 is no file of the store). */
  read (): string[] {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    return text.split('\n').filter(isHashHex)
  }

  /** Forgets the list, once every file on it is named by a record or removed. */
  clear (): void {
    rmSync(this.path, { force: true })
  }
}
