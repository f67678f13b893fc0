import { afterEach, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import type { Conversation, MediaRecord, Message } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, openStore } from '../helpers/stores.js'

// A message an app puts must name what the store holds: one in a conversation the store does not hold
// is never sent (a transfer walks conversations) while the transfer still verifies, and one naming a
// media record the store does not hold fails every transfer on the new phone, blamed on this one.

afterEach(cleanupTempDirs)

const SHA = 'a'.repeat(64)
const chat: Conversation = { id: 'c', kind: 'direct', title: 'Ana', members: ['ana'] }
const photo: MediaRecord = { sha256: SHA, size: 3, mime: 'image/jpeg' }
const msg = (id: string, extra: Partial<Message> = {}): Message => ({ conversation: 'c', id, sender: 'ana', ts: 1000, kind: 'text', text: id, ...extra })

function refusal (fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    expect(isFerryError(err, 'BAD_INPUT'), String(err)).toBe(true)
    return err as Error
  }
  throw new Error('not refused')
}

function withChat (): SqliteChatStore {
  const s = openStore()
  s.putMetadata([], [chat], [])
  return s
}

describe('putMessages checks what its messages name', () => {
  it('refuses a message in a conversation the store does not hold, naming it, and writes nothing of the call', () => {
    const s = withChat()
    const err = refusal(() => s.putMessages([msg('m1'), msg('m2', { conversation: 'nope' }), msg('m3')]))
    expect(err.message).toBe('message "nope"/"m2": its conversation "nope" is not in the store, so it would never be sent; put the conversation with putMetadata first')
    expect(s.stats().messages).toBe(0)
    // A caller that catches a refused call inside its own transaction commits the rest of it.
    s.transaction(() => {
      s.putMessages([msg('m1')])
      refusal(() => s.putMessages([msg('x', { conversation: 'nope' }), msg('bad', { ts: 1.5 })]))
      s.putMessages([msg('m3')])
    })
    expect([...s.listMessages()].map(m => m.id)).toEqual(['m1', 'm3'])
    s.close()
  })

  it('refuses a message naming a media record the store does not hold, and takes it once the record is in', () => {
    const s = withChat()
    const err = refusal(() => s.putMessages([msg('m1'), msg('m2', { kind: 'image', media: SHA })]))
    expect(err.message).toBe(`message "c"/"m2": it names media ${SHA}, which has no record in the store, so no transfer of it could succeed; ` +
      'put its record with putMetadata first (addMediaFromFile and writeMedia store the file, not its record)')
    expect(s.stats().messages).toBe(0)
    s.putMetadata([], [], [photo])
    s.putMessages([msg('m1'), msg('m2', { kind: 'image', media: SHA })])
    expect(s.stats().messages).toBe(2)
    s.close()
  })

  it('checks a transaction\'s messages as it commits: their order within it is free, what it never put is refused', async () => {
    const s = openStore()
    expect(refusal(() => s.transaction(() => {
      s.putMetadata([], [{ ...chat, id: 'other' }], [])
      s.putMessages([msg('m1')])
    })).message).toMatch(/^message "c"\/"m1": its conversation "c" is not in the store/)
    let err: unknown
    try {
      await s.transactionAsync(async () => {
        s.putMetadata([], [chat], [])
        s.putMessages([msg('m1', { kind: 'image', media: SHA })])
      })
    } catch (e) {
      err = e
    }
    expect(isFerryError(err, 'BAD_INPUT') && err.message.startsWith(`message "c"/"m1": it names media ${SHA}`), String(err)).toBe(true)
    expect(s.stats()).toMatchObject({ conversations: 0, messages: 0, media: 0 })
    // Nothing of a refused transaction is left to check in the next one, and a message may come before
    // its conversation and media record within one (an import's records come in any order).
    s.transaction(() => {
      s.putMessages([msg('m1', { kind: 'image', media: SHA })])
      s.putMetadata([], [chat], [photo])
    })
    await s.transactionAsync(async () => {
      s.putMessages([msg('d1', { conversation: 'd' })])
      s.putMetadata([], [{ ...chat, id: 'd' }], [])
    })
    expect(s.messageCounts()).toEqual(new Map([['c', 1], ['d', 1]]))
    s.close()
  })

  it('forgets what a savepoint that rolled back put: an app that skips a chat it could not take commits the rest', () => {
    const s = openStore()
    const chats = [{ ...chat, id: 'ok' }, { ...chat, id: 'bad' }]
    s.transaction(() => {
      for (const c of chats) {
        try {
          s.transaction(() => {
            s.putMetadata([], [c], [])
            s.putMessages([msg(`${c.id}-1`, { conversation: c.id })])
            if (c.id === 'bad') throw new Error('the app refuses this chat')
          })
        } catch {}
      }
    })
    expect(s.messageCounts()).toEqual(new Map([['ok', 1]]))
    s.close()
  })
})

describe('the check at commit looks at what the transaction leaves in the store', () => {
  it('commits a transaction that puts a message and deletes it (or replaces it) before it ends', () => {
    const s = withChat()
    s.transaction(() => {
      s.putMessages([msg('lost', { conversation: 'never-put' })])
      s.deleteMessage('never-put', 'lost')
      s.putMessages([msg('photo', { kind: 'image', media: SHA })])
      s.deleteMessage('c', 'photo')
      // The same message again, without the media it first named.
      s.putMessages([msg('m1', { kind: 'image', media: SHA }), msg('m1')])
    })
    expect([...s.listMessages()].map(m => [m.id, m.media])).toEqual([['m1', undefined]])
    expect(s.stats()).toMatchObject({ conversations: 1, media: 0 })
    s.close()
  })

  it('still refuses a message the transaction leaves behind, naming that one', () => {
    const s = withChat()
    const err = refusal(() => s.transaction(() => {
      s.putMessages([msg('a', { conversation: 'never-put' }), msg('b', { conversation: 'never-put' })])
      s.deleteMessage('never-put', 'a')
    }))
    expect(err.message).toMatch(/^message "never-put"\/"b": its conversation "never-put" is not in the store/)
    const photoErr = refusal(() => s.transaction(() => {
      s.putMessages([msg('a', { kind: 'image', media: SHA }), msg('b', { kind: 'image', media: SHA })])
      s.deleteMessage('c', 'a')
    }))
    expect(photoErr.message).toMatch(new RegExp(`^message "c"/"b": it names media ${SHA}`))
    expect(s.stats()).toMatchObject({ conversations: 1, messages: 0, media: 0 })
    s.close()
  })

  it('commits a transaction that puts a chat and its messages and then deletes the chat whole', async () => {
    const s = openStore()
    await s.transactionAsync(async () => {
      s.putMessages([msg('m1', { kind: 'image', media: SHA }), msg('m2')])
      s.putMetadata([], [chat], [])
      await s.commit({ remove: { messages: [{ conversation: 'c', id: 'm1' }, { conversation: 'c', id: 'm2' }], conversations: ['c'] } })
    })
    expect(s.stats()).toMatchObject({ conversations: 0, messages: 0, media: 0 })
    // The chat deleted without its messages leaves them behind, never to be sent: refused.
    let err: unknown
    try {
      await s.transactionAsync(async () => {
        s.putMetadata([], [chat], [])
        s.putMessages([msg('m1')])
        await s.commit({ remove: { conversations: ['c'] } })
      })
    } catch (e) {
      err = e
    }
    expect(isFerryError(err, 'BAD_INPUT') && err.message.startsWith('message "c"/"m1": its conversation "c" is not in the store'), String(err)).toBe(true)
    expect(s.stats()).toMatchObject({ conversations: 0, messages: 0 })
    s.close()
  })

  it('judges nested savepoints by what is left once the inner ones rolled back or were released', () => {
    const s = openStore()
    // The outer transaction's message is gone; a savepoint that named the same chat rolled back.
    s.transaction(() => {
      s.putMessages([msg('m1', { conversation: 'x' })])
      s.deleteMessage('x', 'm1')
      try {
        s.transaction(() => {
          s.putMessages([msg('m2', { conversation: 'x' })])
          throw new Error('the app gives this one up')
        })
      } catch {}
      // A released savepoint that put and deleted its own.
      s.transaction(() => {
        s.putMessages([msg('m3', { conversation: 'y', kind: 'image', media: SHA })])
        s.deleteMessage('y', 'm3')
      })
    })
    expect(s.stats()).toMatchObject({ conversations: 0, messages: 0 })
    // A savepoint that deleted the outer one's message rolled back: the message is back, and refused.
    const err = refusal(() => s.transaction(() => {
      s.putMessages([msg('m1', { conversation: 'x' })])
      try {
        s.transaction(() => {
          s.deleteMessage('x', 'm1')
          throw new Error('the app gives this one up')
        })
      } catch {}
    }))
    expect(err.message).toMatch(/^message "x"\/"m1": its conversation "x" is not in the store/)
    expect(s.stats()).toMatchObject({ messages: 0 })
    s.close()
  })
})
