// The browser phone's IndexedDB store and journal in a real Chromium: the real sender and receiver
// machines move histories into IdbHistoryStore + IdbJournal (bundled with the harness and driven through
// page.evaluate), and the store's pages are checked against a model of the History port.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build } from 'esbuild'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserSha256 } from '../../scripts/build/page.js'
import { encodedMessage } from '../../src/protocol/leaves.js'
import { comparePositions, type Contact, type Conversation, type Message } from '../../src/store/model.js'
import type { HistoryChange } from '../../src/store/history.js'
import { ROOT } from '../e2e/helpers/ferry-cli.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { chromiumUnavailable, launchChromium, type Browser } from './chromium.js'
import type { harness as Harness, HistorySpec, MediaSpec } from './idb-harness.js'

const skip = cannotRun('the IndexedDB store tests', await chromiumUnavailable())

type H = typeof Harness

describe.skipIf(skip)('IdbHistoryStore and IdbJournal in Chromium', () => {
  let browser: Browser
  let server: Server
  let bundle: string
  let origin: string

  beforeAll(async () => {
    const out = await build({
      entryPoints: [`${ROOT}/test/browser/idb-harness.ts`],
      bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent', absWorkingDir: ROOT, plugins: [browserSha256]
    })
    bundle = out.outputFiles[0].text
    // IndexedDB wants a real origin: an empty page on loopback.
    server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>idb</title>') })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    server?.close()
  })

  async function harnessPage (): Promise<Page> {
    const page = await browser.context.newPage()
    await page.goto(origin)
    await page.addScriptTag({ content: bundle })
    return page
  }

  /** Calls harness[fn](...args) in the page. */
  async function call<K extends keyof H> (page: Page, fn: K, ...args: Parameters<H[K]>): Promise<Awaited<ReturnType<H[K]>>> {
    return await page.evaluate(async ({ fn, args }) => {
      const h = window.harness as unknown as Record<string, (...a: unknown[]) => unknown>
      return await h[fn](...args)
    }, { fn, args: args as unknown[] }) as Awaited<ReturnType<H[K]>>
  }

  const contacts: Contact[] = [{ id: 'u1', name: 'Ana' }, { id: 'u2', name: 'Bo' }]
  const conversations: Conversation[] = [
    { id: 'c1', kind: 'direct', title: 'Ana', members: ['me', 'u1'] },
    { id: 'c2', kind: 'direct', title: 'Bo', members: ['me', 'u2'] }
  ]
  const msg = (conversation: string, n: number, text: string, extra: Partial<Message> = {}): Message =>
    ({ conversation, id: `m${String(n).padStart(4, '0')}`, sender: n % 3 === 0 ? 'me' : 'u1', ts: 1_700_000_000_000 + n * 1000, kind: 'text', text, ...extra })
  const encodedOf = (m: Message): { ts: number, id: string, hex: string } => ({ ts: m.ts, id: m.id, hex: Buffer.from(encodedMessage(m)).toString('hex') })
  /** Small frames, so a history of a few hundred messages crosses many batches and media chunks. */
  const OPTIONS = { batchBytes: 2048, chunkBytes: 8 * 1024, windowBytes: 64 * 1024 }

  it('keeps deleted, for an old phone restored from its backup, what was deleted here of the phone it was', async () => {
    const page = await harnessPage()
    const history: HistorySpec = {
      contacts, conversations,
      messages: [...Array.from({ length: 200 }, (_, i) => msg('c1', i, `c1 ${i}`)), ...Array.from({ length: 120 }, (_, i) => msg('c2', i, `c2 ${i}`))],
      media: []
    }
    expect((await call(page, 'transfer', 'restored', 'old-phone', history, { options: OPTIONS })).state).toBe('verified')
    await call(page, 'commit', 'restored', { remove: { messages: history.messages.filter(m => m.conversation === 'c1').map(m => ({ conversation: 'c1', id: m.id })), conversations: ['c1'] } })
    await call(page, 'commit', 'restored', { remove: { messages: [{ conversation: 'c2', id: 'm0005' }] } })

    // The old phone, reset and restored: the same history under a new id, naming the old one.
    const again = await call(page, 'transfer', 'restored', 'restored-phone', history, { options: OPTIONS, formerIds: ['old-phone'] })
    expect(again).toMatchObject({ state: 'verified', messagesReceived: 0, messagesLeftDeleted: 201, chatsLeftDeleted: 1 })
    expect(await call(page, 'counts', 'restored')).toEqual({ c2: 119 })
  })

  it('undoes a refused transfer (what it added goes, what it replaced comes back) and never takes back a verified one', async () => {
    const page = await harnessPage()
    const photo: MediaSpec = { seed: 'photo', size: 50_000, mime: 'image/jpeg' }
    const first: HistorySpec = {
      contacts, conversations,
      messages: [
        ...Array.from({ length: 300 }, (_, i) => msg('c1', i, `kept ${i}`)),
        msg('c2', 1, 'a photo', { kind: 'image', media: (await call(page, 'media', photo)).sha256 }),
        msg('c2', 2, 'kept too')
      ],
      media: [photo]
    }
    const ok = await call(page, 'transfer', 'undo', 'old-phone', first, { options: OPTIONS })
    expect(ok.error).toBeUndefined()
    expect(ok.state).toBe('verified')
    const verified = await call(page, 'exportText', 'undo')
    expect(verified.split('\n').filter(l => l.startsWith('{"type":"message"'))).toHaveLength(302)

    // The old phone changes: messages edited (one moved in time), some added in the middle and at the
    // end, a new video. A sender that then lies about its digests is refused at Done, after every
    // batch was written.
    const video: MediaSpec = { seed: 'video', size: 100_000, mime: 'video/mp4' }
    const changed: HistorySpec = {
      ...first,
      messages: [
        ...first.messages.map(m => m.conversation === 'c1' && Number(m.id.slice(1)) % 50 === 7 ? { ...m, text: `forged ${m.id}` } : m)
          .map(m => m.id === 'm0100' && m.conversation === 'c1' ? { ...m, ts: m.ts + 500_500, text: 'forged and moved' } : m),
        ...Array.from({ length: 40 }, (_, i) => msg('c1', 1000 + i, `forged new ${i}`, { ts: 1_700_000_000_000 + i * 7000 + 1 })),
        msg('c2', 3, 'a video', { kind: 'video', media: (await call(page, 'media', video)).sha256 })
      ],
      media: [photo, video]
    }
    const liar = await call(page, 'transfer', 'undo', 'old-phone', changed, { lie: 'digest', options: OPTIONS })
    expect(liar.error?.code).toBe('DIGEST_MISMATCH')
    // It really wrote before it was refused: the changed messages came, the unchanged were held.
    expect(liar.messagesReceived).toBeGreaterThanOrEqual(46)
    expect(liar.messagesHeld).toBeGreaterThan(250)
    const afterRefusal = await call(page, 'exportText', 'undo')
    const messageLines = (s: string): string[] => s.split('\n').filter(l => l.startsWith('{"type":"message"'))
    expect(messageLines(afterRefusal)).toEqual(messageLines(verified))
    expect(afterRefusal).not.toContain('forged')
    // The video's record went too, and its file with it: the store is as it was, no media missing.
    expect(afterRefusal).toBe(verified)
    const photoRecord = await call(page, 'media', photo)
    expect(await call(page, 'mediaRecords', 'undo')).toEqual([{ ...photoRecord, stored: true }])
    expect(await call(page, 'census', 'undo')).toMatchObject({ files: 1, chunkBytes: photo.size, parts: 0 })

    // As it was after a reload too: the undo is in IndexedDB, not in the page's memory.
    await call(page, 'close', 'undo')
    expect(await call(page, 'exportText', 'undo')).toBe(verified)

    // The honest session verifies, and holds exactly the changed history; then a lie about a later
    // change takes back only that change, never what was verified.
    const honest = await call(page, 'transfer', 'undo', 'old-phone', changed, { options: OPTIONS })
    expect(honest.error).toBeUndefined()
    expect(honest.state).toBe('verified')
    // Verified: its undo log goes in the write that records it, and the record stays.
    const afterHonest = (await call(page, 'census', 'undo')).kv
    expect(afterHonest.filter(k => k.startsWith('u/'))).toEqual([])
    expect(afterHonest.filter(k => k.startsWith('t/'))).toHaveLength(1)
    const verifiedTwice = await call(page, 'exportText', 'undo')
    expect(verifiedTwice).toContain('forged and moved')
    expect(messageLines(verifiedTwice)).toHaveLength(343)
    const later: HistorySpec = { ...changed, messages: [...changed.messages.map(m => m.id === 'm0007' && m.conversation === 'c1' ? { ...m, text: 'later' } : m), msg('c2', 9, 'later too')] }
    const liar2 = await call(page, 'transfer', 'undo', 'old-phone', later, { lie: 'digest', options: OPTIONS })
    expect(liar2.error?.code).toBe('DIGEST_MISMATCH')
    expect(messageLines(await call(page, 'exportText', 'undo'))).toEqual(messageLines(verifiedTwice))

    // Every media file is whole, and its bytes were written once a session: the store took the journal's
    // chunks. The video came twice: the refused session's copy went with its record.
    const digests = await call(page, 'mediaDigests', 'undo')
    expect(Object.keys(digests)).toHaveLength(2)
    for (const [name, actual] of Object.entries(digests)) expect(actual).toBe(name)
    const census = await call(page, 'census', 'undo')
    expect(census.parts).toBe(0)
    expect(census.files).toBe(2)
    expect(census.chunkBytes).toBe(photo.size + video.size)
    expect(await call(page, 'chunkBytesPut')).toBe(photo.size + 2 * video.size)
    // Verified: no undo log is left.
    expect(census.kv.filter(k => k.startsWith('u/'))).toEqual([])
    await page.close()
  }, 120_000)

  it('takes back media records with their files in the change, but for those a message refers to or the change puts', async () => {
    const page = await harnessPage()
    const specs: MediaSpec[] = ['taken', 'bare', 'in use', 'used now', 'put again', 'other'].map((seed, i) => ({ seed, size: 20_000 + i * 1000, mime: 'image/jpeg' }))
    const [taken, bare, inUse, usedNow, putAgain, other] = await Promise.all(specs.map(async spec => await call(page, 'media', spec)))
    await call(page, 'commit', 'drop', { contacts, conversations, media: [taken, bare, inUse, usedNow, putAgain, other] })
    for (const spec of specs.filter(x => x.seed !== 'bare')) await call(page, 'putMedia', 'drop', spec)
    await call(page, 'commit', 'drop', { messages: [msg('c1', 1, 'a photo', { kind: 'image', media: inUse.sha256 })] })
    await call(page, 'commit', 'drop', {
      media: [{ ...putAgain, mime: 'image/png' }],
      messages: [msg('c2', 1, 'sent on', { kind: 'image', media: usedNow.sha256 })],
      remove: { media: [taken, bare, inUse, usedNow, putAgain].map(m => m.sha256) }
    })
    const bySha = (a: { sha256: string }, b: { sha256: string }): number => a.sha256 < b.sha256 ? -1 : 1
    expect(await call(page, 'mediaRecords', 'drop')).toEqual([inUse, usedNow, { ...putAgain, mime: 'image/png' }, other].map(m => ({ ...m, stored: true })).sort(bySha))
    // The files' bytes went in the same transaction: what is left is the four files kept.
    const kept = [inUse, usedNow, putAgain, other]
    expect(await call(page, 'census', 'drop')).toMatchObject({ files: 4, chunkBytes: kept.reduce((n, m) => n + m.size, 0) })
    // Read again after a reload: nothing of it lived only in the page.
    await call(page, 'close', 'drop')
    expect((await call(page, 'mediaRecords', 'drop')).map(m => m.sha256)).toEqual(kept.map(m => m.sha256).sort())
    await page.close()
  }, 60_000)

  it('removes with its record a file still on its way in, and keeps one whose record was put back meanwhile', async () => {
    const page = await harnessPage()
    const [first, deleted, shownAgain] = ['first', 'deleted', 'shown again'].map((seed, i) => ({ seed, size: 40_000 + i * 10_000, mime: 'image/jpeg' }))
    const failed = await call(page, 'removeWhileArriving', 'arriving', { arriving: [first, deleted, shownAgain], remove: [deleted, shownAgain], putBack: [shownAgain] })
    expect(failed).toEqual([])
    const kept = await Promise.all([first, shownAgain].map(async spec => await call(page, 'media', spec)))
    const bySha = (a: { sha256: string }, b: { sha256: string }): number => a.sha256 < b.sha256 ? -1 : 1
    const expectKept = async (): Promise<void> => {
      expect(await call(page, 'mediaRecords', 'arriving')).toEqual(kept.map(m => ({ ...m, stored: true })).sort(bySha))
      // The deleted photo's bytes are gone: the space the person freed is free, and nothing is left that
      // no record names (the store counts as many files as records, all of them whole).
      expect(await call(page, 'census', 'arriving')).toMatchObject({ files: 2, chunkBytes: first.size + shownAgain.size, parts: 0 })
      expect(await call(page, 'stats', 'arriving')).toMatchObject({ media: 2, mediaFiles: 2 })
      const digests = await call(page, 'mediaDigests', 'arriving')
      expect(Object.keys(digests).sort()).toEqual(kept.map(m => m.sha256).sort())
      for (const [name, actual] of Object.entries(digests)) expect(actual).toBe(name)
    }
    await expectKept()
    await call(page, 'close', 'arriving')
    await expectKept()
    await page.close()
  }, 60_000)

  it('resumes after the link is cut and the page reopens, re-sending only what was not committed', async () => {
    const page = await harnessPage()
    const big: MediaSpec = { seed: 'big', size: 300_000, mime: 'video/mp4' }
    const spec: HistorySpec = {
      contacts, conversations,
      messages: [...Array.from({ length: 700 }, (_, i) => msg(i % 2 === 0 ? 'c1' : 'c2', i, `text ${i}`)), msg('c1', 5000, 'video', { kind: 'video', media: (await call(page, 'media', big)).sha256 })],
      media: [big]
    }
    // Cut once the messages and part of the video are in (the video goes last), then the page's
    // database is closed and opened again, as a reload does.
    const cut = await call(page, 'transfer', 'resume', 'old', spec, { options: OPTIONS, cutAt: 150_000 })
    expect(cut.error?.code).toBe('TRUNCATED')
    expect(cut.mediaBytesReceived).toBeGreaterThan(0)
    expect(cut.mediaBytesReceived).toBeLessThan(big.size)
    await call(page, 'close', 'resume')
    const again = await call(page, 'transfer', 'resume', 'old', spec, { options: OPTIONS })
    expect(again.error).toBeUndefined()
    expect(again.state).toBe('verified')
    // Nothing committed before the cut came again.
    expect(again.messagesHeld).toBe(701)
    expect(again.messagesReceived).toBe(0)
    expect(again.mediaBytesReceived).toBeLessThanOrEqual(big.size - cut.mediaBytesReceived)
    expect(await call(page, 'exportText', 'resume')).toBe(await call(page, 'sourceExport', spec))
    expect(Object.values(await call(page, 'mediaDigests', 'resume'))).toEqual([(await call(page, 'media', big)).sha256])
    const census = await call(page, 'census', 'resume')
    expect(census.chunkBytes).toBe(big.size)
    expect(census.parts).toBe(0)
    await page.close()
  }, 120_000)

  it('reports a commit whose transaction fails after the page went on, and keeps a prefix of the commits', async () => {
    const page = await harnessPage()
    await call(page, 'commit', 'fail', { conversations: [{ id: 'c1', kind: 'direct', title: 'c1', members: ['me'] }] })
    // Commits are write-behind: the 5th fails once the page has already made the ones after it (here all
    // of them). The failure is reported all the same, by the next call (here the wait for the writes).
    const out = await call(page, 'appendBatches', 'fail', 'c1', 40, 300, 50, 5)
    expect(out.error?.code).toBe('STORE')
    expect(out.error?.message).toMatch(/storing the history/)
    // Opened again: what is there is the first four batches, whole, and the count agrees. Nothing of the
    // failed one, nor of those made after it.
    await call(page, 'close', 'fail')
    const stored = await call(page, 'readAll', 'fail', 'c1', 1000)
    expect(stored.map(m => m.id)).toEqual(Array.from({ length: 4 * 300 }, (_, n) => `m${String(n).padStart(8, '0')}`))
    expect((await call(page, 'counts', 'fail')).c1).toBe(4 * 300)
    // And it takes writes again, after what it holds.
    expect((await call(page, 'appendBatches', 'fail', 'c2', 2, 10, 10)).error).toBeUndefined()
    expect(await call(page, 'readAll', 'fail', 'c2', 1000)).toHaveLength(20)
    await page.close()
  }, 120_000)

  it('takes over from another tab that wrote meanwhile: appends follow what that tab left', async () => {
    const first = await harnessPage()
    const second = await harnessPage()
    await call(first, 'commit', 'tabs', { conversations: [{ id: 'c1', kind: 'direct', title: 'c1', members: ['me'] }] })
    // The first tab shows the chats (it reads the conversations), then the second one receives.
    expect((await call(first, 'counts', 'tabs')).c1).toBe(0)
    expect((await call(second, 'appendBatches', 'tabs', 'c1', 2, 300, 20)).error).toBeUndefined()
    // The second tab closes; the first takes the lock and receives more of the same conversation.
    await second.close()
    await call(first, 'takeOver', 'tabs')
    expect((await call(first, 'appendBatches', 'tabs', 'c1', 2, 300, 20, 0, 600)).error).toBeUndefined()
    const stored = await call(first, 'readAll', 'tabs', 'c1', 1000)
    expect(stored.map(m => m.id)).toEqual(Array.from({ length: 1200 }, (_, n) => `m${String(n).padStart(8, '0')}`))
    expect((await call(first, 'counts', 'tabs')).c1).toBe(1200)
    await first.close()
  }, 120_000)

  it('receives in one tab, then another, then the first again: each carries on after the other\'s journal writes', async () => {
    const first = await harnessPage()
    const second = await harnessPage()
    const spec = async (page: Page, tag: string, from: number): Promise<HistorySpec> => {
      const photo: MediaSpec = { seed: `photo-${tag}`, size: 40_000, mime: 'image/jpeg' }
      return {
        contacts, conversations,
        messages: [...Array.from({ length: 200 }, (_, i) => msg(i % 2 === 0 ? 'c1' : 'c2', from + i, `${tag} ${i}`)), msg('c2', from + 999, 'photo', { kind: 'image', media: (await call(page, 'media', photo)).sha256 })],
        media: [photo]
      }
    }
    // Each receive writes the journal (undo entries, checkpoints, partial media) through its tab's
    // write queue; the other tab's writes come between.
    expect((await call(first, 'transfer', 'turns', 'old-1', await spec(first, 'one', 0), { options: OPTIONS })).state).toBe('verified')
    await call(second, 'takeOver', 'turns')
    expect((await call(second, 'transfer', 'turns', 'old-2', await spec(second, 'two', 2000), { options: OPTIONS })).state).toBe('verified')
    await call(first, 'takeOver', 'turns')
    const third = await call(first, 'transfer', 'turns', 'old-3', await spec(first, 'three', 4000), { options: OPTIONS })
    expect(third.error).toBeUndefined()
    expect(third.state).toBe('verified')
    expect((await call(first, 'counts', 'turns'))).toEqual({ c1: 300, c2: 303 })
    expect(Object.keys(await call(first, 'mediaDigests', 'turns'))).toHaveLength(3)
    await first.close()
    await second.close()
  }, 120_000)

  it('reads pages written before they kept encodings, and merges a transfer into them', async () => {
    const page = await harnessPage()
    // A browser phone that received before: its pages hold message objects, without the index of ids.
    const old = Array.from({ length: 250 }, (_, i) => msg('c1', i, `before ${i}`, i % 40 === 3 ? { replyTo: `m${String(i - 1).padStart(4, '0')}`, status: 'read' } : {}))
    await call(page, 'putLegacyPages', 'legacy', conversations[0], old, 100)
    await call(page, 'close', 'legacy')
    expect(await call(page, 'readAll', 'legacy', 'c1', 70)).toEqual(old)
    expect(await call(page, 'readEncoded', 'legacy', 'c1', 70)).toEqual(old.map(encodedOf))
    expect(await call(page, 'find', 'legacy', 'c1', ['m0007', 'm0249', 'absent'])).toEqual([old[7], old[249]])
    // The old phone edited some, wrote some between them and after, and has a second chat: the transfer
    // reads this phone's leaves from the old pages, writes into them and verifies what it wrote.
    const spec: HistorySpec = {
      contacts, conversations,
      messages: [
        ...old.map(m => Number(m.id.slice(1)) % 30 === 11 ? { ...m, text: `edited ${m.id}` } : m),
        ...Array.from({ length: 30 }, (_, i) => msg('c1', 500 + i, `between ${i}`, { ts: 1_700_000_000_000 + i * 8000 + 1 })),
        ...Array.from({ length: 20 }, (_, i) => msg('c1', 900 + i, `after ${i}`)),
        ...Array.from({ length: 10 }, (_, i) => msg('c2', i, `second chat ${i}`))
      ],
      media: []
    }
    const out = await call(page, 'transfer', 'legacy', 'old-phone', spec, { options: OPTIONS })
    expect(out.error).toBeUndefined()
    expect(out.state).toBe('verified')
    const edited = old.filter(m => Number(m.id.slice(1)) % 30 === 11).length
    expect(out.messagesReceived).toBe(edited + 30 + 20 + 10)
    expect(await call(page, 'exportText', 'legacy')).toBe(await call(page, 'sourceExport', spec))
    const c1 = spec.messages.filter(m => m.conversation === 'c1').sort(comparePositions)
    expect(await call(page, 'readEncoded', 'legacy', 'c1', 1000)).toEqual(c1.map(encodedOf))
    await page.close()
  }, 120_000)

  it('keeps a recall and a later edit made on the browser phone through a second transfer, and verifies', async () => {
    const page = await harnessPage()
    const first: HistorySpec = { contacts, conversations, messages: Array.from({ length: 200 }, (_, i) => msg('c1', i, `first ${i}`)), media: [] }
    expect((await call(page, 'transfer', 'mine', 'old-phone', first, { options: OPTIONS })).state).toBe('verified')
    // The browser phone recalls one message and edits two; the old phone edits one of those later, and
    // adds messages.
    const here = 1_800_000_000_000
    const m = (n: number): Message => first.messages[n]
    await call(page, 'commit', 'mine', {
      messages: [
        { ...m(20), text: undefined, status: 'recalled' },
        { ...m(60), text: 'edited here', editedAt: here },
        { ...m(100), text: 'edited here, then there', editedAt: here }
      ]
    })
    const later: HistorySpec = {
      ...first,
      messages: [
        ...first.messages.map(x => x.id === m(100).id ? { ...x, text: 'edited there last', editedAt: here + 1 } : x),
        ...Array.from({ length: 20 }, (_, i) => msg('c1', 500 + i, `added ${i}`))
      ]
    }
    const second = await call(page, 'transfer', 'mine', 'old-phone', later, { options: OPTIONS })
    expect(second.error).toBeUndefined()
    expect(second.state).toBe('verified')
    expect(second.messagesKept).toBe(2)
    const [recalled, edited, editedThere] = await call(page, 'find', 'mine', 'c1', [m(20).id, m(60).id, m(100).id])
    expect(recalled.status).toBe('recalled')
    expect(recalled.text).toBeUndefined()
    expect(edited.text).toBe('edited here')
    expect(editedThere.text).toBe('edited there last')
    expect((await call(page, 'readAll', 'mine', 'c1', 1000)).length).toBe(220)
    await page.close()
  }, 120_000)

  it('keeps a chat title and a contact name the browser phone changed through a second transfer, takes the old phone\'s renames', async () => {
    const page = await harnessPage()
    const first: HistorySpec = { contacts, conversations, messages: Array.from({ length: 50 }, (_, i) => msg('c1', i, `first ${i}`)), media: [] }
    expect((await call(page, 'transfer', 'names', 'old-phone', first, { options: OPTIONS })).state).toBe('verified')
    // Renamed here: chat c1 and contact u1. Renamed on the old phone: chat c2 and contact u2.
    await call(page, 'commit', 'names', { conversations: [{ ...conversations[0], title: 'Ana (work)' }], contacts: [{ id: 'u1', name: 'Ana M.' }] })
    const later: HistorySpec = {
      contacts: [contacts[0], { id: 'u2', name: 'Bo (there)' }],
      conversations: [conversations[0], { ...conversations[1], title: 'Bo (there)' }],
      messages: [...first.messages, ...Array.from({ length: 10 }, (_, i) => msg('c1', 100 + i, `added ${i}`))],
      media: []
    }
    const second = await call(page, 'transfer', 'names', 'old-phone', later, { options: OPTIONS })
    expect(second.error).toBeUndefined()
    expect(second.state).toBe('verified')
    expect(second.messagesReceived).toBe(10)
    const records = (await call(page, 'exportText', 'names')).split('\n').filter(l => /^{"type":"(contact|conversation)"/.test(l)).map(l => JSON.parse(l) as { id: string, name?: string, title?: string })
    const named = Object.fromEntries(records.map(r => [r.id, r.name ?? r.title]))
    expect(named).toEqual({ u1: 'Ana M.', u2: 'Bo (there)', c1: 'Ana (work)', c2: 'Bo (there)' })
    expect(second.namesKept).toBe(2)
    await page.close()
  }, 120_000)

  it('keeps a deletion deleted while the store holds the generation its bases describe, and not once it holds an older one', async () => {
    const page = await harnessPage()
    const spec: HistorySpec = { contacts, conversations, messages: Array.from({ length: 60 }, (_, i) => msg('c1', i, `m ${i}`)), media: [] }
    expect((await call(page, 'transfer', 'gens', 'old-phone', spec, { options: OPTIONS })).state).toBe('verified')
    const first = await call(page, 'generation', 'gens', 'old-phone')
    expect(first).toBeTypeOf('string')
    const deleted = spec.messages.slice(0, 10).map(m => m.id)
    await call(page, 'commit', 'gens', { remove: { messages: deleted.map(id => ({ conversation: 'c1', id })) } })
    const kept = await call(page, 'transfer', 'gens', 'old-phone', spec, { options: OPTIONS })
    expect(kept.state).toBe('verified')
    expect(kept.messagesLeftDeleted).toBe(10)
    // The history as an older copy of the database holds it: the generation of the first transfer.
    await call(page, 'keepGeneration', 'gens', 'old-phone', first as string)
    const back = await call(page, 'transfer', 'gens', 'old-phone', spec, { options: OPTIONS })
    expect(back.state).toBe('verified')
    expect(back.messagesLeftDeleted).toBe(0)
    expect((await call(page, 'find', 'gens', 'c1', deleted)).length).toBe(10)
    await page.close()
  }, 120_000)

  /** The page's JS heap after a forced GC, in MiB. */
  const heapOf = async (page: Page): Promise<() => Promise<number>> => {
    const cdp = await browser.context.newCDPSession(page)
    return async () => {
      await cdp.send('HeapProfiler.collectGarbage')
      return (await cdp.send('Runtime.getHeapUsage')).usedSize / 2 ** 20
    }
  }

  it('holds no history in memory: the page\'s heap after GC does not grow with the history', async () => {
    const page = await harnessPage()
    const heapMiB = await heapOf(page)
    await call(page, 'commit', 'heap', { conversations: [{ id: 'c1', kind: 'direct', title: 'c1', members: ['me'] }] })
    const batch = async (from: number, batches: number): Promise<void> => {
      expect((await call(page, 'appendBatches', 'heap', 'c1', batches, 1000, 60, 0, from)).error).toBeUndefined()
    }
    await batch(0, 50)
    expect(await call(page, 'scan', 'heap', 'c1')).toBe(50_000)
    const small = await heapMiB()
    await batch(50_000, 200)
    expect(await call(page, 'scan', 'heap', 'c1')).toBe(250_000)
    const large = await heapMiB()
    console.log(`page heap after GC: ${small.toFixed(2)} MiB holding 50,000 messages, ${large.toFixed(2)} MiB holding 250,000`)
    // 200,000 more messages (about 25 MB as objects) leave the heap where it was, give or take.
    expect(large - small).toBeLessThan(2)
    expect(large).toBeLessThan(40)
    await page.close()
  }, 300_000)

  it('holds back commits that run ahead of the database: the heap stays small while they are written', async () => {
    const page = await harnessPage()
    const heapMiB = await heapOf(page)
    await call(page, 'commit', 'ahead', { conversations: [{ id: 'c1', kind: 'direct', title: 'c1', members: ['me'] }] })
    const before = await heapMiB()
    // As a receiver commits: as fast as each commit resolves, 200,000 messages (~25 MB as objects),
    // and the heap read the moment the last commit resolved, its writes still going on.
    expect((await call(page, 'appendBatches', 'ahead', 'c1', 200, 1000, 60, 0, 0, false)).error).toBeUndefined()
    const during = await heapMiB()
    expect(await call(page, 'scan', 'ahead', 'c1')).toBe(200_000)
    console.log(`page heap after GC: ${before.toFixed(2)} MiB before, ${during.toFixed(2)} MiB as 200,000 messages were still being written`)
    expect(during - before).toBeLessThan(8)
    await page.close()
  }, 300_000)

  it('keeps messages in canonical order through appends, upserts that move them, removals and reopens (seeded model check)', async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000)
    console.log(`idb pages model check: seed ${seed} (SEED=${seed} to repeat)`)
    let x = seed || 1
    const rand = (n: number): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n }
    const page = await harnessPage()
    // Ids where UTF-16 order and code point order disagree: astral characters, U+E000-U+FFFF, U+FFFD.
    const alphabet = ['a', 'b', 'z', 'é', '\ue000', '\uffee', '\ufffd', '😀', '𝔸', '0']
    const id = (): string => Array.from({ length: 1 + rand(4) }, () => alphabet[rand(alphabet.length)]).join('') + String(rand(1000))
    const model = new Map<string, Map<string, Message>>()
    const at = (c: string): Map<string, Message> => { let m = model.get(c); if (m === undefined) model.set(c, m = new Map()); return m }
    const convs = ['c1', 'c2', 'c😀']
    let clock = 1_700_000_000_000
    const sorted = (c: string): Message[] => [...at(c).values()].sort(comparePositions)
    const apply = async (change: HistoryChange): Promise<void> => {
      await call(page, 'commit', 'model', change)
      for (const r of change.remove?.messages ?? []) at(r.conversation).delete(r.id)
      for (const m of change.messages ?? []) at(m.conversation).set(m.id, m)
    }
    const check = async (when: string): Promise<void> => {
      for (const c of convs) {
        const want = sorted(c)
        const got = await call(page, 'readAll', 'model', c, 1 + rand(400))
        expect(got, `${when}: ${c} (seed ${seed})`).toEqual(want)
        // What a read-back hashes: each message's own encoding, in the same order.
        expect(await call(page, 'readEncoded', 'model', c, 1 + rand(400)), `${when}: encodings of ${c} (seed ${seed})`).toEqual(want.map(encodedOf))
        expect(await call(page, 'latest', 'model', c, 50)).toEqual(want.slice(-50))
      }
      const counts = await call(page, 'counts', 'model')
      for (const c of convs) expect(counts[c] ?? 0, `${when}: count of ${c}`).toBe(at(c).size)
    }
    await apply({ conversations: convs.map(c => ({ id: c, kind: 'group', title: c, members: ['me'] })) })
    for (let step = 0; step < 40; step++) {
      const c = convs[rand(convs.length)]
      const op = rand(10)
      if (op < 4) {
        // As a new phone receives: a batch in order after the conversation's last message.
        const batch: Message[] = []
        for (let i = 0, n = 1 + rand(300); i < n; i++) {
          clock += rand(3) * 1000
          batch.push({ conversation: c, id: `${id()}-${step}-${i}`, sender: 'u1', ts: clock, kind: 'text', text: `t${step}.${i}` })
        }
        batch.sort(comparePositions)
        await apply({ messages: batch.filter((m, i) => i === 0 || comparePositions(batch[i - 1], m) !== 0) })
      } else if (op < 7) {
        // Upserts: stored messages edited, some moved in time, and new ones anywhere, out of order.
        const stored = [...at(c).values()]
        const put: Message[] = []
        for (let i = 0, n = rand(60); i < n && stored.length > 0; i++) {
          const m = stored[rand(stored.length)]
          put.push({ ...m, text: `edited ${step}`, ts: rand(3) === 0 ? 1_700_000_000_000 + rand(2_000_000) * 1000 : m.ts })
        }
        for (let i = 0, n = rand(40); i < n; i++) put.push({ conversation: c, id: `${id()}-u${step}-${i}`, sender: 'me', ts: 1_700_000_000_000 + rand(2_000_000) * 1000, kind: 'text', text: 'new' })
        await apply({ messages: put })
      } else if (op < 9) {
        const stored = [...at(c).keys()]
        const remove = Array.from({ length: rand(80) }, () => stored[rand(stored.length)]).filter(s => s !== undefined).map(i => ({ conversation: c, id: i }))
        await apply({ remove: { messages: [...remove, { conversation: c, id: 'never-stored' }] } })
      } else {
        await call(page, 'close', 'model')
      }
      if (rand(3) === 0 || step === 39) await check(`after step ${step}`)
      // findMessages: the stored versions of those that exist, none of the others.
      const stored = [...at(c).values()]
      const ask = [...Array.from({ length: rand(30) }, () => stored[rand(stored.length)]?.id).filter((s): s is string => s !== undefined), 'absent-1', 'absent-2']
      const found = await call(page, 'find', 'model', c, ask)
      const want = [...new Set(ask)].flatMap(i => { const m = at(c).get(i); return m === undefined ? [] : [m] })
      expect(found.sort(comparePositions), `find after step ${step} (seed ${seed})`).toEqual(want.sort(comparePositions))
    }
    await page.close()
  }, 300_000)
})
