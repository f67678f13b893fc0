import type Database from 'better-sqlite3'

type Statement = Database.Statement<unknown[], unknown>
export type Cell = string | number | null

/** Rows per statement: 64 rows of 14 columns bind 896 parameters, far below SQLite's limit of 32,766. */
export const ROWS_PER_STATEMENT = 64

/**
 * Writes rows through multi-row INSERT statements, up to ROWS_PER_STATEMENT rows per call. Each
 * better-sqlite3 call pays its own binding set-up, step, reset and result object; a statement per row paid
 * them per message (1 M messages into an empty table: 1.93 s one row per call, 1.60 s 64 rows per call).
 *
 * The rows of one statement are written in order, each with the semantics it has alone (an upsert's
 * later row updates an earlier one of the same statement), so batching changes no result. What changes is
 * the unit of a failure: a constraint error undoes the whole statement, up to 64 rows. A writer given
 * `merge` then writes those rows, and every later one, through it: a plain INSERT is faster, and most
 * rows are new, so a re-run over rows the store holds pays one failed statement, not one per row.
 */
export class RowWriter<T> {
  private readonly params: Cell[]
  private rows = 0
  private merging = false

  /**
   * @param width parameters per row
   * @param fill writes one row's parameters into `params` from `at`
   * @param insert the statement for `rows` rows (the writer asks for 1..ROWS_PER_STATEMENT; cache them)
   * @param merge the statement that takes over after a constraint error, if any
   */
  constructor (
    private readonly width: number,
    private readonly fill: (params: Cell[], at: number, row: T) => void,
    private readonly insert: (rows: number) => Statement,
    private readonly merge?: (rows: number) => Statement
  ) {
    this.params = new Array<Cell>(width * ROWS_PER_STATEMENT).fill(null)
  }

  add (row: T): void {
    this.fill(this.params, this.rows * this.width, row)
    if (++this.rows === ROWS_PER_STATEMENT) this.flush()
  }

  /** Writes the rows added since the last flush; call it once after the last add. */
  flush (): void {
    const rows = this.rows
    if (rows === 0) return
    this.rows = 0
    // A statement binds exactly its own parameter count: a short tail gets a copy of its part.
    const params = rows === ROWS_PER_STATEMENT ? this.params : this.params.slice(0, rows * this.width)
    if (!this.merging) {
      try {
        this.insert(rows).run(params)
        return
      } catch (err) {
        // Only this statement is undone; the transaction goes on.
        if (this.merge === undefined || !isConstraint(err)) throw err
        this.merging = true
      }
    }
    (this.merge as (rows: number) => Statement)(rows).run(params)
  }
}

export const isConstraint = (err: unknown): boolean => String((err as { code?: string } | undefined)?.code).startsWith('SQLITE_CONSTRAINT')
