// `ferry send` and `ferry receive` as two real processes on loopback: a whole tiny history, a selection
// made on either phone, and pairing from the QR payload.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, exportStore, ferryOk, inspect, killAll, LOOPBACK, newStorePath, NO_MDNS, seedStore, senderReady, startReceiver,
  startSender, spawnFerry, tempDir, type FerryProcess
} from './helpers/ferry-cli.js'
import { until } from '../helpers/until.js'
import { auditMedia } from './helpers/store-check.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { HEADROOM_BYTES } from '../../src/memory/heap-growth.js'

const CODE = '161-8033-9887'

interface Line { type: string, id?: string, sha256?: string, conversation?: string, sender?: string, ts?: number, media?: string, members?: string[] }

let source: string
let sourceExport: string
let sourceLines: Array<{ raw: string, rec: Line }>

/** Runs one transfer to its end; both processes must exit 0. */
async function transfer (sender: FerryProcess, receiver: FerryProcess): Promise<void> {
  const [r, s] = await Promise.all([receiver.waitExit(45_000), sender.waitExit(45_000)])
  expect(r.code, receiver.describe()).toBe(0)
  expect(s.code, sender.describe()).toBe(0)
  // --json: events on stdout, nothing for people on stderr (but a debug log a test asked for).
  expect(receiver.stderr.replace(/^\S+ ferry:memory:(buffer-scavenger|heap-growth) .*\n/gm, '')).toBe('')
  expect(receiver.otherLines).toEqual([])
  expect(sender.otherLines).toEqual([])
}

/**
 * The canonical export a receiver of `sel` must hold, cut from the source's: the selected messages, the
 * chosen conversations, the media those messages use, and the people in them (members and senders).
 */
function expectedExport (sel: { chats?: string[], since?: number, until?: number }): { text: string, messages: number } {
  const inSel = (m: Line): boolean => (sel.chats === undefined || sel.chats.includes(m.conversation!)) &&
    (sel.since === undefined || m.ts! >= sel.since) && (sel.until === undefined || m.ts! < sel.until)
  const messages = sourceLines.filter(l => l.rec.type === 'message' && inSel(l.rec))
  const chats = sourceLines.filter(l => l.rec.type === 'conversation' && (sel.chats === undefined || sel.chats.includes(l.rec.id!)))
  const media = new Set(messages.map(l => l.rec.media))
  const people = new Set([...chats.flatMap(l => l.rec.members ?? []), ...messages.map(l => l.rec.sender)])
  const keep = sourceLines.filter(l =>
    (l.rec.type === 'contact' && people.has(l.rec.id)) ||
    (l.rec.type === 'conversation' && chats.includes(l)) ||
    (l.rec.type === 'media' && media.has(l.rec.sha256)) ||
    (l.rec.type === 'message' && messages.includes(l)))
  return { text: keep.map(l => l.raw + '\n').join(''), messages: messages.length }
}

const messageLines = (ndjson: string): string[] => ndjson.split('\n').filter(l => l.startsWith('{"type":"message"'))

describe('ferry send / ferry receive on loopback', () => {
  beforeAll(async () => {
    source = await seedStore('tiny', 3)
    sourceExport = await exportStore(source)
    sourceLines = sourceExport.trimEnd().split('\n').map(raw => ({ raw, rec: JSON.parse(raw) as Line }))
  }, 60_000)
  afterEach(async () => { await killAll() })
  afterAll(() => cleanupTempDirs())

  it('moves a tiny history: both exit 0 and the two exports are byte-identical', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    // Both say in their debug log that they paced scavenges by buffers (src/memory/buffer-scavenger.ts),
    // and the sender that it widened V8's old-generation limit (src/memory/heap-growth.ts).
    const scavenging = 'ferry:memory:buffer-scavenger'
    const sender = startSender(store, { code: CODE, env: { DEBUG: `${scavenging},ferry:memory:heap-growth` } })
    const ready = await senderReady(sender)
    expect(ready.code).toBe(CODE)
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr, env: { DEBUG: `${scavenging},ferry:memory:heap-growth` } })
    await transfer(sender, receiver)

    const [a, b] = await Promise.all([exportStore(store), exportStore(target)])
    expect(a).toBe(sourceExport) // the sender's phone is untouched
    expect(b.length).toBe(a.length)
    expect(b === a, 'receiver export differs from the sender\'s').toBe(true)

    // Both report the same, complete, verified transfer.
    const rv = await receiver.waitEvent('verified')
    const sv = await sender.waitEvent('verified')
    const total = sourceLines.filter(l => l.rec.type === 'message').length
    expect(rv.progress).toMatchObject({ messages: total, totalMessages: total })
    expect(sv.progress).toMatchObject({ messages: total, totalMessages: total })
    expect((rv.summary as Array<{ messages: number }>).reduce((n, c) => n + c.messages, 0)).toBe(total)
    // The old phone's summary is the same, chat by chat: what the new phone verified.
    const chats0 = new Set(sourceLines.filter(l => l.rec.type === 'conversation').map(l => l.rec.id as string))
    expect((sv.summary as Array<{ id: string }>).map(c => c.id).sort()).toEqual([...chats0].sort())
    expect(sv.summary).toEqual(rv.summary)
    // The chats are announced ready once, when the last message is in, before the media and the end.
    const order = receiver.events.map(e => e.event)
    expect(receiver.all('chats-ready').map(e => e.messages)).toEqual([total])
    const chats = order.indexOf('chats-ready')
    expect(order.indexOf('manifest')).toBeLessThan(chats)
    expect(order.indexOf('verified')).toBeGreaterThan(chats)
    const progress = receiver.events.map((e, i) => ({ i, messages: e.messages as number })).filter(({ i }) => order[i] === 'progress')
    expect(progress.filter(p => p.i < chats).every(p => p.messages < total)).toBe(true)
    expect(progress.filter(p => p.i > chats).every(p => p.messages === total)).toBe(true)
    // Reading back is announced once, with what it covers, after the last byte came and before the end.
    const media = new Set(sourceLines.filter(l => l.rec.type === 'media').map(l => l.rec.sha256)).size
    expect(media).toBeGreaterThan(0)
    expect(receiver.all('verifying')).toEqual([expect.objectContaining({ messages: total, mediaFiles: media })])
    const verifying = order.indexOf('verifying')
    expect(verifying).toBeGreaterThan(chats)
    expect(verifying).toBeLessThan(order.indexOf('verified'))
    expect(sender.all('paired')[0]).toMatchObject({ mode: 'code' })
    for (const phone of [sender, receiver]) expect(phone.stderr).toMatch(/ferry:memory:buffer-scavenger \d+ scavenges for buffers/)
    expect(sender.stderr).toContain('ferry:memory:heap-growth the old generation may grow by 300%')
    // 1.5 MB of media is over before V8 would mark often: the receiver keeps V8's own factor throughout.
    expect(receiver.stderr).not.toContain('media to come')
    expect(receiver.all('paired')[0]).toMatchObject({ mode: 'code', peer: ready.peerId })
    // A verified transfer leaves no resume token behind on either phone, and no unfinished checkpoint.
    expect((await inspect(store)).pairing).toBeUndefined()
    const report = await inspect(target)
    expect(report.pairing).toBeUndefined()
    expect(report.transfers).toEqual([])
    expect(report.partialMedia).toEqual([])
  })

  it('a new phone with 100 MB of media to come gives its collector a headroom while they flow, and V8 its own factor back to read back', async () => {
    const small = await seedStore('small', 5)
    const sender = startSender(copyStore(small), { code: CODE })
    const ready = await senderReady(sender)
    const receiver = startReceiver(newStorePath(), { code: CODE, peer: ready.addr, env: { DEBUG: 'ferry:memory:heap-growth' } })
    await transfer(sender, receiver)
    await receiver.waitEvent('verified')
    const held = /ferry:memory:heap-growth media to come: (\d+) MB alive, the old generation may grow by (\d+)% between full collections/.exec(receiver.stderr)
    expect(held, receiver.stderr).not.toBeNull()
    const [alive, percent] = [Number(held?.[1]), Number(held?.[2])]
    expect(alive).toBeGreaterThan(0)
    // The headroom over what is alive, never more than the sender's four times.
    const forAlive = (bytes: number): number => Math.min(300, Math.ceil(100 * HEADROOM_BYTES / bytes))
    expect(percent).toBeLessThanOrEqual(forAlive((alive - 0.5) * 1e6)) // the log rounds to MB
    expect(percent).toBeGreaterThanOrEqual(forAlive((alive + 0.5) * 1e6))
    const restored = receiver.stderr.indexOf("ferry:memory:heap-growth the old generation grows by V8's own factor again")
    expect(restored).toBeGreaterThan(held?.index ?? Infinity)
  }, 120_000)

  it('files damaged on the old phone\'s disk: the history moves, those files are left out and the new phone says so', async () => {
    const store = copyStore(source)
    const files = auditMedia(store).complete
    expect(files.length).toBeGreaterThan(2)
    // A bad sector: one byte of one file is not what it was; its name (its sha256) no longer fits it.
    const bad = join(store, 'media', files[0])
    const bytes = readFileSync(bad)
    bytes[bytes.length >> 1] ^= 0xff
    writeFileSync(bad, bytes)
    // A file cut short (a crash as it was written, a full disk).
    const cut = join(store, 'media', files[1])
    writeFileSync(cut, readFileSync(cut).subarray(0, 100))
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    const target = newStorePath()
    // As a person runs it (no --json): the warning is for them.
    const receiver = spawnFerry(['receive', '--store', target, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--code', CODE, '--peer', ready.addr], { name: 'receiver' })
    const [r, s] = await Promise.all([receiver.waitExit(45_000), sender.waitExit(45_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(receiver.stderr).toMatch(/warning: 2 media files were damaged on the old phone/)
    const notMedia = (t: string): string[] => t.trim().split('\n').filter(l => !l.startsWith('{"type":"media"'))
    expect(notMedia(await exportStore(target))).toEqual(notMedia(sourceExport))
    const moved = auditMedia(target)
    expect(moved.corrupt).toEqual([])
    expect(moved.complete.sort()).toEqual(files.slice(2).sort())
    expect((await inspect(target)).stats.mediaPresent).toBe(files.length - 2)
  })

  it('the sender offers only some chats (--chats): the receiver holds exactly those', async () => {
    const ids = sourceLines.filter(l => l.rec.type === 'conversation').map(l => l.rec.id!)
    const chats = [ids[1], ids[3]]
    const sender = startSender(copyStore(source), { code: CODE, extra: ['--chats', chats.join(',')] })
    const ready = await senderReady(sender)
    const target = newStorePath()
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr })
    await transfer(sender, receiver)

    const want = expectedExport({ chats })
    const got = await exportStore(target)
    expect(messageLines(got)).toEqual(messageLines(want.text))
    expect(got).toBe(want.text)
    const report = await inspect(target)
    expect(report.conversations.map(c => c.id)).toEqual(chats)
    expect(report.stats.messages).toBe(want.messages)
  })

  it('the receiver asks for a time window of some chats (--chats --since --until), the sender narrows it further', async () => {
    const ids = sourceLines.filter(l => l.rec.type === 'conversation').map(l => l.rec.id!)
    const ts = sourceLines.filter(l => l.rec.type === 'message').map(l => l.rec.ts!).sort((a, b) => a - b)
    // Window edges on real message timestamps: --since includes its instant, --until excludes its own.
    const since = ts[Math.floor(ts.length * 0.2)]
    const until = ts[Math.floor(ts.length * 0.8)]
    const senderUntil = ts[Math.floor(ts.length * 0.7)]
    const chats = [ids[0], ids[1], ids[3]]
    const iso = (t: number): string => new Date(t).toISOString()
    const sender = startSender(copyStore(source), { code: CODE, extra: ['--until', iso(senderUntil)] })
    const ready = await senderReady(sender)
    const target = newStorePath()
    const receiver = startReceiver(target, {
      code: CODE, peer: ready.addr, extra: ['--chats', chats.join(','), '--since', iso(since), '--until', iso(until)]
    })
    await transfer(sender, receiver)

    const want = expectedExport({ chats, since, until: Math.min(until, senderUntil) })
    expect(want.messages).toBeGreaterThan(50) // a real cut, neither empty nor everything
    expect(want.messages).toBeLessThan(ts.length / 2)
    const got = await exportStore(target)
    expect(messageLines(got)).toEqual(messageLines(want.text))
    expect(got).toBe(want.text)
    expect((await receiver.waitEvent('manifest')).totalMessages).toBe(want.messages)
  })

  it('moves again after the old phone was used: verified at once, nothing the first transfer verified lost', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    let sender = startSender(store, { code: CODE })
    let ready = await senderReady(sender)
    await transfer(sender, startReceiver(target, { code: CODE, peer: ready.addr }))
    const total = sourceLines.filter(l => l.rec.type === 'message').length

    // One more message on the old phone, in its first chat, then a second transfer with a new code.
    const chat = sourceLines.find(l => l.rec.type === 'conversation')!.rec
    const added = { type: 'message', conversation: chat.id, id: 'one-more', sender: chat.members![0], ts: 1_600_000_000_000, kind: 'text', text: 'one more' }
    const file = join(tempDir(), 'one.ndjson')
    writeFileSync(file, JSON.stringify(added) + '\n')
    await ferryOk(['import', file, '--store', store])
    const code2 = '271-8281-8284'
    sender = startSender(store, { code: code2 })
    ready = await senderReady(sender)
    const receiver = startReceiver(target, { code: code2, peer: ready.addr })
    await transfer(sender, receiver)
    expect((await inspect(target)).stats.messages).toBe(total + 1)
    expect(await exportStore(target)).toBe(await exportStore(store))
  })

  it('a second transfer moves only what changed, into a phone in use, and says so in numbers', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    // The new phone is in use: a message of its own in a group the old phone is in too.
    const group = sourceLines.find(l => l.rec.type === 'conversation' && (l.rec.members?.length ?? 0) > 2)!.rec
    const mine = { type: 'message', conversation: group.id, id: 'mine-1', sender: 'me', ts: 1_650_000_000_000, kind: 'text', text: 'written on the new phone' }
    const file = join(tempDir(), 'mine.ndjson')
    writeFileSync(file, [JSON.stringify({ type: 'conversation', id: group.id, kind: 'group', title: 'ours', members: group.members }), JSON.stringify(mine)].join('\n') + '\n')
    await ferryOk(['import', file, '--store', target])
    let sender = startSender(store, { code: CODE })
    let ready = await senderReady(sender)
    let receiver = startReceiver(target, { code: CODE, peer: ready.addr })
    await transfer(sender, receiver)
    const total = sourceLines.filter(l => l.rec.type === 'message').length
    expect((await receiver.waitEvent('verified')).stats).toMatchObject({ messagesSent: total, messagesHeld: 0 })
    expect((await inspect(target)).stats.messages).toBe(total + 1)

    // Three messages more on the old phone, one edited: the second transfer moves those four.
    const chat = sourceLines.find(l => l.rec.type === 'conversation')!.rec
    const old = sourceLines.find(l => l.rec.type === 'message' && l.rec.conversation === chat.id)!
    const changes = [
      ...[1, 2, 3].map(i => ({ type: 'message', conversation: chat.id, id: `later-${i}`, sender: chat.members![0], ts: 1_900_000_000_000 + i, kind: 'text', text: `later ${i}` })),
      { ...(JSON.parse(old.raw) as object), text: 'edited on the old phone' }
    ]
    const more = join(tempDir(), 'more.ndjson')
    writeFileSync(more, changes.map(c => JSON.stringify(c)).join('\n') + '\n')
    await ferryOk(['import', more, '--store', store])
    sender = startSender(store, { code: '271-8281-8284' })
    ready = await senderReady(sender)
    receiver = startReceiver(target, { code: '271-8281-8284', peer: ready.addr })
    await transfer(sender, receiver)
    expect((await receiver.waitEvent('verified')).stats).toMatchObject({ messagesSent: 4, messagesHeld: total - 1, mediaFilesSent: 0 })
    const got = await exportStore(target)
    expect(got).toContain('edited on the old phone')
    expect(got).toContain('"id":"mine-1"')
    expect((await inspect(target)).stats.messages).toBe(total + 4)

    // The new phone's owner recalls a message the old phone still shows: the old phone did not change it
    // since the last transfer, so the next one is not sent it again, and the recall stays.
    const other = sourceLines.filter(l => l.rec.type === 'message' && l.rec.conversation === chat.id)[1]
    // The owner renames the chat too: the old phone did not, so the name stays.
    const recall = join(tempDir(), 'recall.ndjson')
    writeFileSync(recall, [JSON.stringify({ ...chat, title: 'renamed on the new phone' }), JSON.stringify({ ...(JSON.parse(other.raw) as object), status: 'recalled' })].join('\n') + '\n')
    await ferryOk(['import', recall, '--store', target])

    // Without --json the summary says it in words.
    sender = startSender(store, { code: '314-1592-6535' })
    ready = await senderReady(sender)
    const plain = spawnFerry(['receive', '--store', target, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--code', '314-1592-6535', '--peer', ready.addr])
    expect((await plain.waitExit(45_000)).code, plain.describe()).toBe(0)
    expect((await sender.waitExit(45_000)).code).toBe(0)
    // Two names kept: that one, and the group this phone titled 'ours' before any transfer from that phone
    // (no base said which side named it, so this phone's stays).
    expect(plain.stderr).toMatch(new RegExp(`0 new messages, 0 new media files \\(0 B\\), 2 chat or contact names kept as this phone changed them and the old phone did not, ${(total + 3).toLocaleString('en-US')} messages and \\d+ media files already here`))
    const recalled = messageLines(await exportStore(target)).map(l => JSON.parse(l) as Line & { status?: string }).find(m => m.conversation === chat.id && m.id === other.rec.id)
    expect(recalled?.status).toBe('recalled')
    const chats = (await exportStore(target)).split('\n').filter(l => l.startsWith('{"type":"conversation"')).map(l => JSON.parse(l) as { id: string, title: string })
    expect(chats.find(c => c.id === chat.id)?.title).toBe('renamed on the new phone')
    expect(chats.find(c => c.id === group.id)?.title).toBe('ours')
    // ...and says what it is doing while the bar stands still: the read-back, before the summary.
    const all = (total + 3).toLocaleString('en-US')
    const lines = plain.stderr.split('\n')
    const reading = lines.findIndex(l => new RegExp(`^everything is here: reading ${all} messages and \\d+ media files back to verify them$`).test(l))
    const chatsReady = lines.indexOf(`all ${all} messages are in: the chats can be opened while the media goes on`)
    expect(chatsReady, plain.stderr).toBeGreaterThanOrEqual(0)
    expect(reading, plain.stderr).toBeGreaterThan(chatsReady)
    expect(reading).toBeLessThan(lines.findIndex(l => l.startsWith('0 new messages')))
  })

  it('a chat and a contact deleted on the new phone stay deleted at the next transfer and say so; --restore-deleted brings them back', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    let sender = startSender(store, { code: CODE })
    let ready = await senderReady(sender)
    await transfer(sender, startReceiver(target, { code: CODE, peer: ready.addr }))
    // The new phone's owner deletes a chat, as the app does: through the store.
    const chat = sourceLines.find(l => l.rec.type === 'conversation')!.rec
    const phone = SqliteChatStore.open(target)
    const messages = [...phone.listMessages({ conversations: [chat.id!] })]
    const gone = messages.map(m => ({ conversation: chat.id!, id: m.id }))
    expect(gone.length).toBeGreaterThan(0)
    // With the media only this chat shows, as an app that frees their space does.
    const others = new Set([...phone.listMessages()].filter(m => m.conversation !== chat.id).flatMap(m => m.media === undefined ? [] : [m.media]))
    const photos = [...new Set(messages.flatMap(m => m.media === undefined || others.has(m.media) ? [] : [m.media]))]
    expect(photos.length).toBeGreaterThan(0)
    const title = phone.listConversations().find(c => c.id === chat.id)?.title as string
    expect(title).toBeDefined()
    // And a contact.
    const person = sourceLines.find(l => l.rec.type === 'contact')!.rec
    await phone.commit({ remove: { messages: gone, conversations: [chat.id!], media: photos, contacts: [person.id!] } })
    phone.close()

    sender = startSender(store, { code: '271-8281-8284' })
    ready = await senderReady(sender)
    const plain = spawnFerry(['receive', '--store', target, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--code', '271-8281-8284', '--peer', ready.addr])
    expect((await plain.waitExit(45_000)).code, plain.describe()).toBe(0)
    expect((await sender.waitExit(45_000)).code).toBe(0)
    const deleted = gone.length.toLocaleString('en-US')
    expect(plain.stderr).toContain(`${deleted} messages deleted on this phone stay deleted, 1 whole chat among them, with ${photos.length.toLocaleString('en-US')} media files and 1 contact (ferry receive --restore-deleted brings them back)`)
    const report = await inspect(target)
    expect(report.stats.contacts).toBe((await inspect(store)).stats.contacts - 1)
    expect(report.conversations.map(c => c.id)).not.toContain(chat.id)
    // Its media stayed out too, and nothing here points at a file that is not.
    expect(report.stats.mediaMissing).toBe(0)
    expect(report.stats.media).toBe((await inspect(store)).stats.media - photos.length)
    // The summary lists what this phone holds: not the chat that stays deleted.
    const listed = plain.stderr.slice(plain.stderr.indexOf('\nVerified: '))
    expect(listed).toMatch(/^\nVerified: \d+ messages/)
    const lines = listed.split('\n')
    expect(lines.some(l => /^ {2}\S.* messages$/.test(l)), listed).toBe(true)
    expect(lines.filter(l => l.startsWith(`  ${title}  `)), listed).toEqual([])

    sender = startSender(store, { code: '314-1592-6535' })
    ready = await senderReady(sender)
    const receiver = startReceiver(target, { code: '314-1592-6535', peer: ready.addr, extra: ['--restore-deleted'] })
    await transfer(sender, receiver)
    expect((await receiver.waitEvent('verified')).stats).toMatchObject({ messagesSent: gone.length, messagesLeftDeleted: 0, chatsLeftDeleted: 0, contactsLeftDeleted: 0, mediaLeftDeleted: 0, mediaFilesSent: photos.length })
    expect(await exportStore(target)).toBe(await exportStore(store))
  })

  it('selections that do not overlap: both phones exit 1 saying what each side wanted', async () => {
    const ids = sourceLines.filter(l => l.rec.type === 'conversation').map(l => l.rec.id!)
    const sender = startSender(copyStore(source), { code: CODE, extra: ['--chats', ids[0]] })
    const ready = await senderReady(sender)
    const target = newStorePath()
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr, extra: ['--chats', ids[1]] })
    const [r, s] = await Promise.all([receiver.waitExit(45_000), sender.waitExit(45_000)])
    expect(r.code).toBe(1)
    expect(s.code).toBe(1)
    for (const p of [receiver, sender]) expect(p.stderr).toMatch(new RegExp(`offers chats ${ids[0]}.*asked for chats ${ids[1]}`))
    expect((await inspect(target)).stats.messages).toBe(0)
  })

  it('receives with the QR payload alone (--qr: code, peer id and address in one string)', async () => {
    const store = copyStore(source)
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    expect(ready.qr).toMatch(/^ferry:\/\/pair\?/)
    const qr = new URL(ready.qr)
    expect(qr.searchParams.get('code')).toBe(CODE)
    expect(qr.searchParams.get('peer')).toBe(ready.peerId)
    expect(qr.searchParams.getAll('addr').every(a => a.startsWith('/ip4/127.0.0.1/'))).toBe(true)
    const target = newStorePath()
    const receiver = startReceiver(target, { qr: ready.qr })
    await transfer(sender, receiver)
    expect(receiver.all('paired')[0]).toMatchObject({ mode: 'code', peer: ready.peerId })
    expect(await exportStore(target)).toBe(sourceExport)
  })

  it('takes the QR payload from a file or stdin, so its code and key are never on a command line', async () => {
    for (const how of ['file', 'stdin'] as const) {
      const sender = startSender(copyStore(source), { code: how === 'file' ? CODE : '271-8281-8284' })
      const ready = await senderReady(sender)
      expect(new URL(ready.qr).searchParams.get('key')).toMatch(/^[A-Za-z0-9_-]{22}$/)
      const target = newStorePath()
      let receiver: FerryProcess
      if (how === 'file') {
        const file = join(tempDir(), 'qr.txt')
        writeFileSync(file, `${ready.qr}\n`, { mode: 0o600 })
        receiver = startReceiver(target, { extra: ['--qr-file', file] })
      } else {
        receiver = startReceiver(target, { extra: ['--qr', '-'], input: `${ready.qr}\n` })
      }
      await transfer(sender, receiver)
      expect(receiver.all('paired')[0]).toMatchObject({ mode: 'code', peer: ready.peerId })
      expect(await exportStore(target)).toBe(sourceExport)
    }
  })
  it('a link that drops mid-transfer is said to the person in plain words, the cause kept for the log', async () => {
    // The old phone as a person runs it: its lines on stderr, not JSON.
    const sender = spawnFerry(['send', '--store', copyStore(source), NO_MDNS, '--listen', LOOPBACK, '--code', CODE], { name: 'sender', env: { DEBUG: 'ferry:cli' } })
    await until('the QR payload', () => /^ferry:\/\/pair\?\S+$/m.test(sender.stderr), 30_000)
    const qr = /^(ferry:\/\/pair\?\S+)$/m.exec(sender.stderr)![1]
    // Held before its read-back, then killed: the link drops with the old phone waiting to hear Verified.
    const receiver = startReceiver(newStorePath(), { qr, extra: ['--no-sweep'], env: { FERRY_TEST_HOLD_VERIFYING: '1' } })
    await receiver.waitEvent('verifying', 30_000)
    await receiver.kill9()
    await until('the sender to say the link dropped', () => sender.stderr.includes('dropped'), 30_000)
    const said = sender.stderr.split('\n').filter(l => !l.includes(' ferry:cli '))
    expect(said).toContain('the link to the new phone dropped; the transfer carries on where it stopped once the new phone is back...')
    expect(said.join('\n')).not.toMatch(/stream|interrupted/i)
    // The transport's own words stay for whoever debugs it.
    expect(sender.stderr).toMatch(/ferry:cli interrupted \((TRUNCATED|CANCELLED)\): \S/)
  }, 90_000)
  it('a time window that holds no message: the new phone says so after what the manifest holds, not \'all 0 messages are in\' before it', async () => {
    const sender = startSender(copyStore(source), { code: CODE })
    const ready = await senderReady(sender)
    // The new phone as a person runs it: its lines on stderr, not JSON.
    const receiver = spawnFerry(['receive', '--store', newStorePath(), NO_MDNS, '--no-sweep', '--listen', LOOPBACK, '--qr', ready.qr, '--since', '2099-01-01'], { name: 'receiver' })
    const [r, s] = await Promise.all([receiver.waitExit(45_000), sender.waitExit(45_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    const lines = receiver.stderr.split('\n')
    const manifest = lines.findIndex(l => /^\d+ conversations, 0 messages, 0 B of media$/.test(l))
    expect(manifest, receiver.stderr).toBeGreaterThan(0)
    expect(lines[manifest + 1]).toMatch(/^no message is in the selection: only the \d+ conversations \(names and members\) move$/)
    expect(receiver.stderr).not.toMatch(/all 0 messages are in/)
  }, 90_000)
})
