import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openExport } from '../../../src/sim/importers/detect.js'
import { mapWhatsApp } from '../../../src/sim/importers/whatsapp.js'
import type { MappedHistory } from '../../../src/sim/importers/common.js'

// Shapes of real WhatsApp exports that public parsers' documentation and bug reports show, each in a
// fixture of Ferry's own: every message keeps its sender, its time and its whole text.

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'whatsapp', 'formats')
const UTC = (y: number, mo: number, d: number, h: number, mi: number, s = 0): number => Date.UTC(y, mo - 1, d, h, mi, s)

async function load (path: string): Promise<MappedHistory> {
  const o = await openExport(join(DIR, path))
  expect(o.format).toBe('whatsapp')
  try {
    return await mapWhatsApp(await o.source!.readText(o.main!, 1 << 24), o.source!, o.main!, o.title!, { timeZone: 'UTC' })
  } finally {
    await o.source!.close()
  }
}

describe('WhatsApp senders not in the phone\'s contacts ("~ Name")', () => {
  it('iOS names them "~ Name" in its group events too: those are system lines, and a person\'s unmarked words stay theirs', async () => {
    const h = await load('ios-non-contacts/WhatsApp Chat - Allotment')
    expect(h.messages.map(m => [m.sender, m.kind, m.text, m.ts])).toEqual([
      ['system', 'system', 'Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them.', UTC(2022, 2, 28, 21, 52, 58)],
      ['system', 'system', '~\u202fRosa created this group', UTC(2022, 2, 28, 21, 52, 58)],
      ['system', 'system', '~\u202fRosa added ~\u202fOmar', UTC(2022, 2, 28, 21, 53, 10)],
      ['system', 'system', 'You joined using this group\'s invite link', UTC(2023, 1, 17, 10, 14, 1)],
      ['wa:Omar', 'text', 'Who has the shed key?', UTC(2023, 1, 17, 10, 14, 9)],
      ['wa:Rosa', 'text', 'Under the pot', UTC(2023, 1, 17, 10, 15, 37)],
      ['wa:Omar', 'text', '~ Rosa added the compost, thanks', UTC(2023, 1, 17, 10, 16, 2)]
    ])
    expect(h.conversations[0]).toMatchObject({ kind: 'group', title: 'Allotment', members: ['wa:Omar', 'wa:Rosa'] })
  })
})

describe('WhatsApp documents on Android', () => {
  it('the document\'s title Android writes on the line after "FILE (file attached)" is its name again, not a caption', async () => {
    const h = await load('android-document/WhatsApp Chat with Tom.txt')
    expect(h.messages.map(m => [m.sender, m.kind, m.fileName, m.text, m.ts])).toEqual([
      ['wa:Tom', 'file', 'Budget 2024.pdf', undefined, UTC(2023, 4, 3, 9, 15)],
      ['wa:Ann', 'file', 'Minutes.pdf', 'for Thursday', UTC(2023, 4, 3, 9, 16)],
      ['wa:Ann', 'text', undefined, 'Budget 2024\nlooks fine', UTC(2023, 4, 13, 18, 2)]
    ])
    expect(h.messages.slice(0, 2).every(m => m.media !== undefined)).toBe(true)
  })
})

describe('WhatsApp documents on iOS', () => {
  it('a document left out of the export keeps the name and page count iOS writes before "document omitted", as one it holds does', async () => {
    const h = await load('ios-document/WhatsApp Chat - Tom')
    expect(h.messages.map(m => [m.sender, m.kind, m.fileName, m.text, m.ts])).toEqual([
      ['wa:Tom', 'file', '00000013-Budget 2024.pdf', 'Budget 2024.pdf • 3 pages', UTC(2023, 4, 3, 9, 15, 2)],
      ['wa:Ann', 'file', 'Minutes.pdf', 'Minutes.pdf • 1 page', UTC(2023, 4, 3, 9, 16, 40)],
      ['wa:Ann', 'text', undefined, 'Budget 2024.pdf • 3 pages is too long\nask Tom', UTC(2023, 4, 13, 18, 2, 11)]
    ])
    expect(h.messages[0].media).toBeDefined()
    expect(h.messages[1].media).toBeUndefined()
    expect(h.unmapped['media left out of the export (message kept without it)']).toBe(1)
  })
})

describe('WhatsApp video notes left out of the export', () => {
  it('iOS "video note omitted" and Android "<Video note omitted>" are a video without its file, not text', async () => {
    const ios = await load('ios-video-note/WhatsApp Chat - Kim')
    expect(ios.messages.map(m => [m.sender, m.kind, m.text, m.ts])).toEqual([
      ['wa:Kim', 'video', undefined, UTC(2023, 4, 3, 9, 15, 2)],
      ['wa:Lee', 'image', undefined, UTC(2023, 4, 3, 9, 15, 40)],
      ['wa:Lee', 'text', 'your video note omitted the ending', UTC(2023, 4, 13, 18, 2, 11)]
    ])
    const android = await load('android-video-note/WhatsApp Chat with Kim.txt')
    expect(android.messages.map(m => [m.sender, m.kind, m.text, m.ts])).toEqual([
      ['wa:Kim', 'video', undefined, UTC(2023, 4, 3, 9, 15)],
      ['wa:Lee', 'file', undefined, UTC(2023, 4, 3, 9, 16)],
      ['wa:Lee', 'text', 'ok', UTC(2023, 4, 13, 18, 2)]
    ])
    expect(android.unmapped['media left out of the export (message kept without it)']).toBe(2)
  })
})
