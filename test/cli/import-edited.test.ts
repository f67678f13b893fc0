import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ferry, jsonLines } from '../helpers/ferry-sync.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// A newer WhatsApp export of a chat already imported, whose only difference is a message edited (or
// deleted) since: no message is new, but the import changed the store, and says so rather than that
// nothing happened.

afterAll(() => cleanupTempDirs())

interface Line { type: string, text?: string, status?: string }

/** The store's messages as a person reads them. */
function shown (store: string): Array<string | undefined> {
  const lines = jsonLines(ferry('export', '--store', store).stdout) as unknown as Line[]
  return lines.filter(l => l.type === 'message').map(m => m.status === 'recalled' ? '(deleted)' : m.text)
}

/** A WhatsApp export of the chat with Alice, made at `when` (its own folder, the name WhatsApp gives it). */
function exportOf (dir: string, when: string, lines: string[]): string {
  mkdirSync(join(dir, when))
  const path = join(dir, when, 'WhatsApp Chat with Alice.txt')
  writeFileSync(path, lines.join('\n') + '\n')
  return path
}

describe('a newer WhatsApp export that only edits or deletes a message', () => {
  it('says how many it edited and deleted, in lines and in --json; the same export again says none', () => {
    const dir = tempDir()
    const store = join(dir, 'phone')
    const older = exportOf(dir, 'january', ['31/12/2023, 23:59 - Alice: happy new yaer', '01/01/2024, 00:01 - Bob: you too', '01/01/2024, 00:02 - Bob: see you at 8'])
    const first = ferry('import', older, '--store', store, '--tz', 'UTC')
    expect(first.status, first.stderr).toBe(0)
    expect(shown(store)).toEqual(['happy new yaer', 'you too', 'see you at 8'])

    const edited = exportOf(dir, 'february', ['31/12/2023, 23:59 - Alice: happy new year!! <This message was edited>', '01/01/2024, 00:01 - Bob: you too', '01/01/2024, 00:02 - Bob: see you at 8'])
    const second = ferry('import', edited, '--store', store, '--tz', 'UTC')
    expect(second.status, second.stderr).toBe(0)
    expect(second.stdout.split('\n')[0]).toBe(`no new messages: the 3 messages of this export were already in ${store}; 1 message edited`)
    expect(shown(store)).toEqual(['happy new year!!', 'you too', 'see you at 8'])

    // The same export again: the edit is already there, and nothing is said to have changed.
    const again = ferry('import', edited, '--store', store, '--tz', 'UTC', '--json')
    expect(again.status, again.stderr).toBe(0)
    expect(jsonLines(again.stdout).find(e => e.event === 'imported')).toMatchObject({ newMessages: 0, messagesEdited: 0, messagesRecalled: 0 })

    const deleted = exportOf(dir, 'march', ['31/12/2023, 23:59 - Alice: happy new year!! <This message was edited>', '01/01/2024, 00:01 - Bob: you too', '01/01/2024, 00:02 - Bob: This message was deleted'])
    const third = ferry('import', deleted, '--store', store, '--tz', 'UTC', '--json')
    expect(third.status, third.stderr).toBe(0)
    expect(jsonLines(third.stdout).find(e => e.event === 'imported')).toMatchObject({ newMessages: 0, messagesEdited: 0, messagesRecalled: 1 })
    expect(shown(store)).toEqual(['happy new year!!', 'you too', '(deleted)'])
  })
})
