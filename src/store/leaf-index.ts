import type Database from 'better-sqlite3'
import type { KeptLeaves, LeafIndex, LeafRecord } from './history.js'
import { comparePositions } from './model.js'

// history.db's LeafIndex. Dropping stale leaves is the triggers' work (schema.ts, LEAVES), so it happens
// in every writer's transaction; what is left here is reading and appending them, and the token that
// stops a cut read before a write from being kept after it. The token is a count of this process's
// writes per conversation: one process at a time writes a store (store-lock.ts), so no other writer can
// slip in between.

type Row = unknown[]

const FORMAT_KEY = 'leaf_format'

export class SqliteLeafIndex implements LeafIndex {
  private readonly writes = new Map<string, number>()
  private everything = 0

  constructor (private readonly db: Database.Database, private readonly readOnly: boolean) {}

  /** Counts a write to a conversation's messages (before or inside its transaction). */
  wrote (conversation: string): void {
    this.writes.set(conversation, (this.writes.get(conversation) ?? 0) + 1)
  }

  /** Counts a write that may touch any conversation. */
  wroteAll (): void {
    this.everything++
  }

  private token (conversation: string): number {
    return tokenOf(this.writes, this.everything, conversation)
  }

  /**
   * This index as a reader's snapshot on `db`, taken just now, sees it: its leaves are the snapshot's,
   * and a cut of the snapshot is kept through this index only while no write to its conversation came
   * since, which the tokens, frozen here, tell. `pending`: this connection's transaction was open when
   * the snapshot was taken, so writes it counted are not in it, and nothing the snapshot cuts is kept.
   */
  seenFrom (db: Database.Database, pending: boolean): LeafIndex {
    const writes = new Map(this.writes)
    const everything = this.everything
    const reader = new SqliteLeafIndex(db, true)
    return {
      keptLeaves: async (conversation, format) => ({
        leaves: (await reader.keptLeaves(conversation, format)).leaves,
        token: pending ? -1 : tokenOf(writes, everything, conversation)
      }),
      keepLeaves: async (conversation, format, token, leaves) => { await this.keepLeaves(conversation, format, token, leaves) }
    }
  }

  async keptLeaves (conversation: string, format: string): Promise<KeptLeaves> {
    const token = this.token(conversation)
    if (this.format() !== format) return { leaves: [], token }
    const rows = this.db.prepare('SELECT first_ts, first_id, last_ts, last_id, count, digest FROM leaves WHERE conversation = ? ORDER BY last_ts, last_id')
      .raw().all(conversation) as Row[]
    const leaves = rows.map((r): LeafRecord => ({
      first: { ts: r[0] as number, id: r[1] as string },
      last: { ts: r[2] as number, id: r[3] as string },
      count: r[4] as number,
      digest: new Uint8Array(r[5] as Buffer)
    }))
    return { leaves, token }
  }

  async keepLeaves (conversation: string, format: string, token: number, leaves: LeafRecord[]): Promise<void> {
    // A read-only store keeps nothing: the next transfer cuts again.
    if (this.readOnly || leaves.length === 0 || token !== this.token(conversation)) return
    this.db.transaction(() => {
      if (this.format() !== format) {
        this.db.exec('DELETE FROM leaves')
        this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(FORMAT_KEY, format)
      }
      // A cut from the conversation's start repeats what is kept: only leaves after it are added.
      const last = this.db.prepare('SELECT last_ts, last_id FROM leaves WHERE conversation = ? ORDER BY last_ts DESC, last_id DESC LIMIT 1')
        .raw().get(conversation) as Row | undefined
      const after = (l: LeafRecord): boolean => last === undefined || comparePositions(l.first, { ts: last[0] as number, id: last[1] as string }) > 0
      const put = this.db.prepare('INSERT OR REPLACE INTO leaves (conversation, last_ts, last_id, first_ts, first_id, count, digest) VALUES (?, ?, ?, ?, ?, ?, ?)')
      for (const l of leaves) if (after(l)) put.run(conversation, l.last.ts, l.last.id, l.first.ts, l.first.id, l.count, l.digest)
    }).immediate()
  }

  private format (): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(FORMAT_KEY)
    return row === undefined ? undefined : String(row)
  }
}

/** The writes a conversation had by these counts: a token never below 0. */
function tokenOf (writes: Map<string, number>, everything: number, conversation: string): number {
  return (writes.get(conversation) ?? 0) + everything * 0x100000000
}
