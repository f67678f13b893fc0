import { describe, expect, it, vi } from 'vitest'
import { eventPrinter } from '../../src/cli/phone.js'
import type { FerryEvent, TransferStats } from '../../src/net/transfer-events.js'

// The line `ferry receive` closes with, from the verified event's stats: what the transfer brought, in
// words a person reads without the API's names.

function said (stats: TransferStats): string {
  let stderr = ''
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { stderr += String(s); return true })
  try {
    const printer = eventPrinter(false, 'receiving', 'the old phone')
    const e: FerryEvent = { type: 'verified', at: 1_000, summary: [], progress: { messages: 0, totalMessages: 0, mediaBytes: 0, totalMediaBytes: 0 }, stats }
    printer.onEvent(e)
    printer.stop()
  } finally {
    err.mockRestore()
  }
  return stderr
}

const moved: TransferStats = { messagesSent: 12, messagesHeld: 0, mediaFilesSent: 1, mediaBytesSent: 50_000, mediaFilesHeld: 0 }

describe('ferry receive\'s closing summary', () => {
  it('says how many files the old phone no longer has, and that their messages came without them', () => {
    expect(said({ ...moved, mediaFilesMissing: 2 })).toBe('12 new messages, 1 new media file (50.0 kB), 2 media files the old phone no longer has (their messages came without them)\n')
    expect(said({ ...moved, mediaFilesMissing: 1 })).toContain(', 1 media file the old phone no longer has (its messages came without it)')
    expect(said({ ...moved, mediaFilesMissing: 0 })).not.toContain('no longer has')
  })

  it('says when its counts cover the last session only, rather than pass them off as the whole transfer', () => {
    const line = said({ ...moved, messagesSent: 5, messagesHeld: 7, lastSessionOnly: true })
    expect(line).toBe('5 new messages, 1 new media file (50.0 kB), 7 messages and 0 media files already here ' +
      '(counting since the transfer was last interrupted: it began under an earlier version of Ferry, so what came before counts as already here)\n')
  })
})
