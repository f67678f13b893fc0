import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ferry, jsonLines } from '../helpers/ferry-sync.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// An export imported first without --me (the person's own messages under their name, as a third
// person's), then again with --me NAME: nothing is new, but the person's messages become theirs. The
// import says so, and the chat's members lose the name that now is "me", and only that one: an import
// never takes away a member otherwise (one only the store knows may have joined since the export).

afterAll(() => cleanupTempDirs())

interface Conversation { id: string, kind: string, members: string[] }
interface Message { id: string, sender: string }

function exported (store: string): { conversations: Conversation[], messages: Message[] } {
  const lines = jsonLines(ferry('export', '--store', store).stdout) as unknown as Array<{ type: string }>
  return {
    conversations: lines.filter(l => l.type === 'conversation') as unknown as Conversation[],
    messages: lines.filter(l => l.type === 'message') as unknown as Message[]
  }
}

describe('a WhatsApp export imported again with --me', () => {
  it('re-attributes the messages to "me", says so, and drops the name from the direct chat\'s members', () => {
    const dir = tempDir()
    const store = join(dir, 'phone')
    const chat = join(dir, 'WhatsApp Chat with Alice.txt')
    writeFileSync(chat, '12/31/23, 10:00 - Alice: hi\n12/31/23, 10:01 - Bob: hello\n12/31/23, 10:02 - Bob: how are you\n12/31/23, 10:03 - Alice: fine\n')
    expect(ferry('import', chat, '--store', store, '--tz', 'UTC').status).toBe(0)
    expect(exported(store).conversations.map(c => c.members.slice().sort())).toEqual([['wa:Alice', 'wa:Bob']])

    const again = ferry('import', chat, '--store', store, '--tz', 'UTC', '--me', 'Bob')
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout.split('\n')[0]).toBe(`no new messages: the 4 messages of this export were already in ${store}; 2 messages re-attributed to you`)
    const after = exported(store)
    expect(after.conversations.map(c => [c.kind, c.members.slice().sort()])).toEqual([['direct', ['me', 'wa:Alice']]])
    expect(after.messages.map(m => m.sender)).toEqual(['wa:Alice', 'me', 'me', 'wa:Alice'])

    // Once more: nothing changes, and nothing is said to.
    const third = ferry('import', chat, '--store', store, '--tz', 'UTC', '--me', 'Bob', '--json')
    expect(third.status, third.stderr).toBe(0)
    expect(jsonLines(third.stdout).find(e => e.event === 'imported')).toMatchObject({ newMessages: 0, messagesMadeMine: 0 })
  })
})

describe('an NDJSON export imported again with the person\'s messages as "me"', () => {
  it('drops only the member whose messages became "me"; a member only the store has otherwise stays', () => {
    const dir = tempDir()
    const store = join(dir, 'phone')
    const write = (name: string, members: string[], sender: string): string => {
      const path = join(dir, name)
      writeFileSync(path, [
        { type: 'conversation', id: 'g1', kind: 'group', title: 'Friends', members },
        { type: 'message', conversation: 'g1', id: 'm1', sender: 'u1', ts: 1_700_000_000_000, kind: 'text', text: 'hi' },
        { type: 'message', conversation: 'g1', id: 'm2', sender, ts: 1_700_000_001_000, kind: 'text', text: 'hello' }
      ].map(l => JSON.stringify(l)).join('\n') + '\n')
      return path
    }
    // u3 is a member the first export knew of and the second does not: it stays, as ever.
    expect(ferry('import', write('first.ndjson', ['u1', 'u2', 'u3'], 'u2'), '--store', store).status).toBe(0)
    const again = ferry('import', write('second.ndjson', ['u1', 'me'], 'me'), '--store', store, '--json')
    expect(again.status, again.stderr).toBe(0)
    expect(jsonLines(again.stdout).find(e => e.event === 'imported')).toMatchObject({ newMessages: 0, messagesMadeMine: 1 })
    expect(exported(store).conversations.map(c => c.members)).toEqual([['u1', 'me', 'u3']])
  })
})
