import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { ROWS_PER_STATEMENT, RowWriter } from '../../src/store/row-writer.js'
import { insertSql, upsertSql } from '../../src/store/schema.js'

// The writer against a real SQLite table: what one statement per row would leave, whatever the row count.
function table (): Database.Database {
  const db = new Database(':memory:')
  db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)')
  return db
}

type Row = [number, string]
const fill = (p: Array<string | number | null>, at: number, r: Row): void => { p[at] = r[0]; p[at + 1] = r[1] }
const rowsOf = (db: Database.Database): Row[] => db.prepare('SELECT k, v FROM t ORDER BY k').raw().all() as Row[]

function writer (db: Database.Database, merge: boolean): { w: RowWriter<Row>, prepared: Set<number> } {
  const prepared = new Set<number>()
  const stmt = (sql: string, rows: number): Database.Statement => { prepared.add(rows); return db.prepare(sql) }
  const w = new RowWriter<Row>(2, fill,
    rows => stmt(insertSql('t', 'k, v', rows), rows),
    merge ? rows => stmt(upsertSql('t', 'k, v', 'k', rows), rows) : undefined)
  return { w, prepared }
}

describe('RowWriter', () => {
  it('writes every row in order through full statements and one short tail', () => {
    const db = table()
    const { w, prepared } = writer(db, false)
    const rows: Row[] = Array.from({ length: 2 * ROWS_PER_STATEMENT + 7 }, (_, i) => [i, `v${i}`])
    for (const r of rows) w.add(r)
    w.flush()
    w.flush() // nothing left: a second flush writes nothing
    expect(rowsOf(db)).toEqual(rows)
    expect([...prepared].sort((a, b) => a - b)).toEqual([7, ROWS_PER_STATEMENT])
  })

  it('merges from the statement that meets a held row on, as an upsert per row would', () => {
    for (const held of [3, ROWS_PER_STATEMENT + 1, 2 * ROWS_PER_STATEMENT + 2]) {
      const db = table()
      db.prepare('INSERT INTO t VALUES (?, ?)').run(held, 'held')
      const { w } = writer(db, true)
      // A key repeated inside one statement: the later row wins, as it would row by row.
      const rows: Row[] = Array.from({ length: 2 * ROWS_PER_STATEMENT + 5 }, (_, i) => [i, `v${i}`])
      rows.push([held, 'last word'])
      for (const r of rows) w.add(r)
      w.flush()
      const expected = new Map(rows.map(([k, v]) => [k, v]))
      expect(rowsOf(db)).toEqual([...expected].sort((a, b) => a[0] - b[0]))
    }
  })

  it('without a merge, throws the constraint error and undoes only the failing statement', () => {
    const db = table()
    db.prepare('INSERT INTO t VALUES (?, ?)').run(ROWS_PER_STATEMENT + 3, 'held')
    const { w } = writer(db, false)
    let thrown: unknown
    try {
      for (let i = 0; i < 3 * ROWS_PER_STATEMENT; i++) w.add([i, `v${i}`])
    } catch (err) { thrown = err }
    expect(String((thrown as { code?: string }).code)).toMatch(/^SQLITE_CONSTRAINT/)
    // The first statement stays; the second (which held row ROWS_PER_STATEMENT + 3 broke) left nothing.
    const keys = rowsOf(db).map(r => r[0])
    expect(keys).toEqual([...Array.from({ length: ROWS_PER_STATEMENT }, (_, i) => i), ROWS_PER_STATEMENT + 3])
  })
})
