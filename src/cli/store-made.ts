import { chmodSync, existsSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { SqliteChatStore } from '../store/sqlite-store.js'
import { isStoreName } from '../store/store-opening.js'
import type { NodeJournal } from '../journal/node-journal.js'

/**
 * What a command that creates a store when missing (`ferry receive`) made of it, so that a run that
 * ends with nothing of a history there leaves the disk as it found it: a mistyped path, or a run given
 * up before anything arrived, must not leave a folder later commands take for a phone. Only Ferry's own
 * names that were not there before go, and the folder only when this run made it and nothing else is
 * in it; a store that holds anything (a record, a pairing, a tried code, a partial file) stays whole.
 */
export class StoreMade {
  private constructor (
    readonly dir: string,
    /** Whether the folder was there before the run (then it stays, whatever happens). */
    readonly existed: boolean,
    /** Ferry's names that were in it then. */
    private readonly had: ReadonlySet<string>,
    /** Its permissions then: a new store makes the folder private (0700). */
    private readonly mode: number | undefined,
    /** The folders on the way to it that were missing too (made with it), nearest first. */
    private readonly parents: readonly string[]
  ) {}

  /** Notes what is at `dir`, before the store is opened (and created) there. */
  static before (dir: string): StoreMade {
    const abs = resolve(dir)
    let names: string[] | undefined
    try {
      names = readdirSync(abs)
    } catch {
      names = undefined // missing, or not a folder: opening the store says which
    }
    const mode = statSync(abs, { throwIfNoEntry: false })?.mode
    const parents: string[] = []
    for (let p = dirname(abs); mode === undefined && p !== dirname(p) && !existsSync(p); p = dirname(p)) parents.push(p)
    return new StoreMade(abs, mode !== undefined, new Set((names ?? []).filter(isStoreName)), mode === undefined ? undefined : mode & 0o7777, parents)
  }

  /** Whether the run creates the store (there was no history.db): a store that was there is never its to take back. */
  get createsStore (): boolean {
    return !this.had.has('history.db')
  }

  /**
   * Whether the open store and its journal hold nothing of a history. Synchronous, so that a Ctrl-C
   * handler looks and closes with nothing written between.
   */
  static holdsNothing (store: SqliteChatStore, journal: NodeJournal): boolean {
    const s = store.stats()
    return s.contacts + s.conversations + s.messages + s.media === 0 && journal.holdsNothing()
  }

  /**
   * Removes what this run made, once its store is closed and was seen to hold nothing, and says so in a
   * person's words. Best effort: what cannot be removed stays, and the failure that ended the run is
   * still the one said.
   */
  takeBack (): string {
    try {
      for (const n of readdirSync(this.dir)) {
        if (isStoreName(n) && !this.had.has(n)) rmSync(join(this.dir, n), { recursive: true, force: true })
      }
      if (this.mode !== undefined) chmodSync(this.dir, this.mode)
      // Not recursive: a file someone put there meanwhile keeps the folder (and those on the way to it).
      else for (const d of [this.dir, ...this.parents]) rmdirSync(d)
    } catch {}
    if (this.existed) return `${this.dir} is left as it was`
    return existsSync(this.dir) ? `the new store in ${this.dir} is removed` : `the new folder ${this.dir} is removed`
  }
}
