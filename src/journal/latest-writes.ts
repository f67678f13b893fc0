/**
 * Records of one kind kept to the `kept` written last, by where each write stands among the others
 * (its seq), never by a clock: a new phone often boots with a date years behind and has it set right by
 * the network, so a record written minutes ago would look years old, and one written before a jump back
 * would look new. Used by the receiving phone's tried codes (tried-codes.ts) and the browser phone's
 * spent codes (web/spent-codes.ts).
 */

/** A record's key and where its last write stands: higher is later; 0 for one written before the order was kept. */
export interface Placed {
  key: string
  seq: number
  /** When it was written (ms since the epoch), where the record says: orders only records of the same seq. */
  lastAt?: number
}

/**
 * One write of a record among `others` (every other well-formed record of its kind): the seq it stamps,
 * one past every record's (`own`: the record's seq before this write), and the keys of the others to
 * delete in the same write so that at most `kept` remain, the written one included when it `stays`.
 */
export function placeWrite (others: Placed[], kept: number, own: { seq?: number, stays: boolean }): { seq: number, drop: string[] } {
  const seq = Math.max(own.seq ?? 0, ...others.map(o => o.seq)) + 1
  const room = Math.max(0, kept - (own.stays ? 1 : 0))
  return { seq, drop: [...others].sort(latestFirst).slice(room).map(o => o.key) }
}

/**
 * Latest written first. Records from before the order of writes was kept (seq 0) come after every
 * other; among themselves their time is all there is to go by, then the key, so the order is the same
 * on every read.
 */
export function latestFirst (a: Placed, b: Placed): number {
  if (a.seq !== b.seq) return b.seq - a.seq
  const at = (b.lastAt ?? 0) - (a.lastAt ?? 0)
  if (at !== 0) return at
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}
