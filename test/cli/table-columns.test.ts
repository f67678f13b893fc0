import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry } from '../helpers/ferry-sync.js'
import { displayWidth } from '../../src/cli/text-width.js'

// The CLI's per-chat tables line up in a terminal whatever script a chat's title or id is written in:
// each column starts at the same cell on every row, and a title with a newline stays on its row.

const FAMILY = '👨\u200D👩\u200D👧\u200D👦'
const CHATS: Array<{ id: string, title: string, messages: number }> = [
  { id: 'plain', title: 'Book club', messages: 1 },
  { id: 'g-家族', title: `家族 ${FAMILY} عائلة`, messages: 2 },
  { id: 'c😀', title: '🇩🇪🇫🇷 trip 👍🏽', messages: 3 },
  { id: 'cｚ', title: 'Ｏｌｄ friends', messages: 1 },
  { id: 'zoe', title: 'Zoe\u0308 & Ame\u0301lie', messages: 2 },
  { id: 'fa', title: 'خانواده', messages: 1 },
  { id: 'he', title: 'חברים מהעבודה', messages: 2 },
  { id: 'multi', title: 'first line\nsecond line\tand a bell \u0007', messages: 1 },
  { id: 'long', title: '這是一個非常非常非常長的群組名稱，用來測試截斷是否正確', messages: 1 },
  { id: 'a-conversation-id-longer-than-the-column', title: 'Long id', messages: 1 }
]

const dir = tempDir()
const oldPhone = join(dir, 'old-phone')

beforeAll(() => {
  const lines: unknown[] = [{ type: 'contact', id: 'u1', name: 'Ana' }]
  for (const c of CHATS) {
    lines.push({ type: 'conversation', id: c.id, kind: 'group', title: c.title, members: ['me', 'u1'] })
    for (let i = 0; i < c.messages; i++) {
      lines.push({ type: 'message', conversation: c.id, id: `${c.id}-${i}`, sender: 'u1', ts: 1_700_000_000_000 + i, kind: 'text', text: `hello ${i}` })
    }
  }
  const file = join(dir, 'history.ndjson')
  writeFileSync(file, lines.map(l => JSON.stringify(l)).join('\n') + '\n')
  const imported = ferry('import', file, '--store', oldPhone)
  expect(imported.status, imported.stderr).toBe(0)
}, 60_000)

afterAll(() => cleanupTempDirs())

/** The cell each row's `marker` starts at: the same on every row when the columns before it line up. */
function columnAt (rows: string[], marker: string): number[] {
  return rows.map(r => {
    expect(r).toContain(marker)
    return displayWidth(r.slice(0, r.indexOf(marker)))
  })
}

describe('per-chat tables with titles and ids in any script', () => {
  it('ferry inspect lines up its columns whatever the conversation ids are written in', () => {
    const r = ferry('inspect', '--store', oldPhone)
    expect(r.status, r.stderr).toBe(0)
    const out = r.stdout.split('\n')
    const start = out.indexOf('Conversations:') + 1
    const end = out.indexOf('', start)
    const block = out.slice(start, end === -1 ? undefined : end)
    // Every conversation has its row; an id too wide for its column is whole, on a line of its own.
    const rows = block.filter(l => l.includes(' messages '))
    expect(rows).toHaveLength(CHATS.length)
    expect(block).toContain('  a-conversation-id-longer-than-the-column')
    expect(new Set(columnAt(rows, ' messages '))).toEqual(new Set([columnAt(rows, ' messages ')[0]]))
    expect(new Set(columnAt(rows, 'group'))).toEqual(new Set([columnAt(rows, 'group')[0]]))
    // The title with a newline and a tab is shown escaped on its row.
    expect(rows.find(l => l.includes('first line'))).toContain('first line\\nsecond line\\tand a bell \\u0007')
    // The title ends its row, so nothing after it needs lining up: a long one is shown whole.
    expect(rows.find(l => l.includes('這是'))).toMatch(/"這是一個非常非常非常長的群組名稱，用來測試截斷是否正確"$/)
  })

  it('ferry restore ends with a table of the chats whose message counts line up', () => {
    const password = join(dir, 'password')
    writeFileSync(password, 'correct horse\n')
    const backup = join(dir, 'chats.ferrybak')
    const made = ferry('backup', '--store', oldPhone, '--out', backup, '--password-file', password)
    expect(made.status, made.stderr).toBe(0)
    const r = ferry('restore', '--store', join(dir, 'new-phone'), '--in', backup, '--password-file', password)
    expect(r.status, r.stderr).toBe(0)
    const rows = r.stderr.split('\n').filter(l => / messages$/.test(l) && l.startsWith('  '))
    // One row per chat: a newline in a title does not start another.
    expect(rows).toHaveLength(CHATS.length)
    const ends = rows.map(l => displayWidth(l))
    expect(new Set(ends)).toEqual(new Set([ends[0]]))
    // A title wider than the column is cut, an ellipsis saying so; the others are whole.
    expect(rows.find(l => l.includes('這是'))).toMatch(/…\s+1 messages$/)
    expect(rows.find(l => l.includes('家族'))).toContain(`家族 ${FAMILY} عائلة`)
    expect(rows.find(l => l.includes('first line'))).toContain('first line\\nsecond line\\tand a bell')
  })
})
