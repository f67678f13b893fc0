import { execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, FerryError, isFerryError } from '../../src/errors.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import { buildQrPayload, generateCode, parseQrPayload, qrDialAddrs, type PairingCode } from '../../src/pairing/index.js'
import { fillStore, tempDir } from '../helpers/stores.js'

// What an app awaiting offer() or receive() hears when it cancels, stops its phone, or is refused:
// every promise settles, with a code that says which of those it was.

const listen = ['/ip4/127.0.0.1/tcp/0']

describe('an app awaiting a transfer', () => {
  const { phones } = stoppedAfterEach()

  async function phone (): Promise<Ferry> {
    const p = await createFerry(tempDir('lifecycle-'), { listen, memory: false })
    phones.push(p)
    return p
  }

  async function oldPhone (): Promise<Ferry> {
    const p = await phone()
    await fillStore(p.store, { conversations: 2, messagesPerConversation: 20, mediaSizes: [] })
    return p
  }

  const messagesOn = (p: Ferry): number => p.store.stats().messages

  /** An address where nothing listens: a phone that is gone. */
  async function deadAddress (peer: Ferry): Promise<string> {
    const server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    await new Promise<void>(resolve => server.close(() => resolve()))
    return `/ip4/127.0.0.1/tcp/${port}/p2p/${peer.node.peerId.toString()}`
  }

  /** Resolves with the first event of `type` passed to the returned handler. */
  function firstEvent (type: FerryEvent['type']): { onEvent: (e: FerryEvent) => void, seen: Promise<FerryEvent> } {
    let heard!: (e: FerryEvent) => void
    const seen = new Promise<FerryEvent>(resolve => { heard = resolve })
    return { onEvent: e => { if (e.type === type) heard(e) }, seen }
  }

  it('an offer whose signal was aborted before it began rejects and serves nothing', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const code = generateCode()
    await expect(old.send({ code, signal: AbortSignal.abort() }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && e.message === 'offering this phone\'s history was cancelled: the app aborted its signal')
    // The new phone holding the code is told, not served, and does not keep trying.
    const interrupted: FerryEvent[] = []
    await expect(fresh.receive({ addrs: old.addresses(), code, onEvent: e => { if (e.type === 'interrupted') interrupted.push(e) } }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED))
    expect(interrupted).toEqual([])
    expect(messagesOn(fresh)).toBe(0)
    // The phone can offer again.
    const again = generateCode()
    const offered = old.send({ code: again })
    await fresh.receive({ addrs: old.addresses(), code: again })
    await expect(offered).resolves.toMatchObject({ messages: 40, totalMessages: 40 })
    expect(messagesOn(fresh)).toBe(40)
  })

  it('an offer\'s signal belongs to that offer: aborted later, it leaves the next offer alone', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const first = new AbortController()
    const code = generateCode()
    const offered = old.send({ code, signal: first.signal })
    await fresh.receive({ addrs: old.addresses(), code })
    await offered
    // The source changes; the second offer has no signal of its own.
    old.store.putMessages(Array.from({ length: 7 }, (_, i) => ({ conversation: 'c0', id: `later-${i}`, sender: 'u1', ts: 1_800_000_000_000 + i, kind: 'text' as const, text: `later ${i}` })))
    const code2 = generateCode()
    const second = old.send({ code: code2 })
    // Aborted while the second offer is open and paired.
    const { stats } = await fresh.receive({ addrs: old.addresses(), code: code2, onEvent: e => { if (e.type === 'paired') first.abort() } })
    await expect(second).resolves.toMatchObject({ totalMessages: 47 })
    expect(stats.messagesSent).toBe(7)
    expect(messagesOn(fresh)).toBe(47)
  })

  it('stopping the old phone ends its open offer: the promise rejects CANCELLED', async () => {
    const old = await oldPhone()
    const offered = old.send({ code: generateCode() }) // nobody comes
    await old.stop()
    await expect(offered).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && /stopped/.test(e.message))
  })

  it('a code handed over as the text typed is BAD_INPUT saying how a code is made, on both phones', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const typed = '123-4567-8901' as unknown as PairingCode
    const told = (e: unknown): boolean => isFerryError(e, ErrorCode.BAD_INPUT) && /parseCode/.test(e.message)
    await expect(old.send({ code: typed })).rejects.toSatisfy(told)
    await expect(fresh.receive({ addrs: old.addresses(), code: typed })).rejects.toSatisfy(told)
  })

  it('a send or receive asked of a stopped phone says it is stopped, not that a transfer stopped', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const addrs = old.addresses()
    await old.stop()
    await fresh.stop()
    const stopped = (e: unknown): boolean => isFerryError(e, ErrorCode.CANCELLED) && /this phone is stopped/.test(e.message)
    await expect(old.send({ code: generateCode() })).rejects.toSatisfy(stopped)
    await expect(fresh.receive({ addrs, code: generateCode() })).rejects.toSatisfy(stopped)
  })

  it('an offer begun just before its phone stops does not open after it', async () => {
    const old = await oldPhone()
    const offered = old.send({ code: generateCode() })
    const stopping = old.stop() // while the offer still reads its code's record
    await expect(offered).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED))
    await stopping
  })

  it('hears chats-ready once a receive, though a reconnect makes the next session find its chats ready again', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const code = generateCode()
    const offered = old.send({ code })
    const heard: Array<FerryEvent['type']> = []
    let cut = false
    const { stats } = await fresh.receive({
      addrs: old.addresses(),
      code,
      onEvent: e => { heard.push(e.type) },
      // The first session holds every message, and its link is lost before it verifies: the next one
      // resumes holding them all.
      beforeVerifying: async () => {
        if (cut) return
        cut = true
        await fresh.node.hangUp(old.node.peerId)
      }
    })
    await offered
    expect(heard.filter(t => t === 'interrupted').length).toBeGreaterThanOrEqual(1)
    expect(heard.filter(t => t === 'chats-ready')).toEqual(['chats-ready'])
    expect(heard.indexOf('chats-ready')).toBeLessThan(heard.indexOf('interrupted'))
    expect(stats.messagesHeld + stats.messagesSent).toBe(40)
    expect(messagesOn(fresh)).toBe(40)
  })

  it('stopping the new phone ends a receive still trying to reach the old one: CANCELLED, not NO_PEER', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const addr = await deadAddress(old)
    const { onEvent, seen } = firstEvent('interrupted')
    const received = fresh.receive({ addrs: [addr], code: generateCode(), onEvent })
    const outcome = received.then(() => undefined, (e: unknown) => e)
    await seen // it failed once and waits to try again
    await fresh.stop()
    const err = await outcome
    expect(isFerryError(err, ErrorCode.CANCELLED)).toBe(true)
    expect((err as FerryError).message).toMatch(/this phone stopped/)
  })

  it('a receive cancelled by its signal says CANCELLED, before or while it dials', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    await expect(fresh.receive({ addrs: old.addresses(), code: generateCode(), signal: AbortSignal.abort() }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && e.message === 'receiving the history was cancelled: the app aborted its signal')
    const cancel = new AbortController()
    const { onEvent, seen } = firstEvent('interrupted')
    const received = fresh.receive({ addrs: [await deadAddress(old)], code: generateCode(), signal: cancel.signal, onEvent })
    const outcome = received.then(() => undefined, (e: unknown) => e)
    await seen
    cancel.abort(new Error('the user left the screen'))
    // Said as what was cancelled, with the app's reason.
    expect(await outcome).toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && e.message === 'receiving the history was cancelled: the app aborted its signal (the user left the screen)')
  })

  it('a phone whose offer ended says why, and the new phone stops at once with that reason', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const interrupted: FerryEvent[] = []
    const onEvent = (e: FerryEvent): void => { if (e.type === 'interrupted') interrupted.push(e) }
    // Verified, then the same code again (a phone the user set up twice): it is used.
    const used = generateCode()
    const verified = old.send({ code: used })
    await fresh.receive({ addrs: old.addresses(), code: used })
    await verified
    const other = await phone()
    await expect(other.receive({ addrs: old.addresses(), code: used, onEvent }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
    expect(messagesOn(other)).toBe(0)
    // Offered, then cancelled by the old phone's user: that is the reason given.
    const cancel = new AbortController()
    const code = generateCode()
    const offered = old.send({ code, signal: cancel.signal })
    cancel.abort()
    await expect(offered).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED))
    await expect(other.receive({ addrs: old.addresses(), code, onEvent }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && /old phone cancelled the pairing/.test(e.message))
    expect(interrupted).toEqual([])
    expect(messagesOn(other)).toBe(0)
  })

  it('a phone that has not offered yet since it started is waited for: its offer may be opening', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const code = generateCode()
    let offered: Promise<unknown> | undefined
    // The old phone offers only once the new one has been turned away and is retrying.
    await fresh.receive({ addrs: old.addresses(), code, onEvent: e => { if (e.type === 'interrupted') offered ??= old.send({ code }) } })
    await offered
    expect(messagesOn(fresh)).toBe(40)
  })

  it('an old phone that cancels just after pairing: the new phone hears that it cancelled, and stops at once', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const cancel = new AbortController()
    const code = generateCode()
    const interrupted: FerryEvent[] = []
    // The old phone's person cancels as soon as the phones paired, before anything is sent.
    const offered = old.send({ code, signal: cancel.signal, onEvent: e => { if (e.type === 'paired') cancel.abort() } })
    const received = fresh.receive({ addrs: old.addresses(), code, onEvent: e => { if (e.type === 'interrupted') interrupted.push(e) } })
    await expect(offered).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED))
    const err = await received.then(() => undefined, (e: unknown) => e) as FerryError
    expect(err).toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && e.details?.from === 'sender' && /old phone cancelled/.test(e.message))
    expect(interrupted).toEqual([])
    expect(messagesOn(fresh)).toBe(0)
    // The words say what carries on, and it does: the pairing is kept on both phones, so the old phone
    // offering again (no code) takes the new one back, which receives with none.
    expect(err.message).toMatch(/The phones stay paired: receive again \(no new code is needed\) once it offers its history again$/)
    const again = old.send({})
    await expect(fresh.receive({ addrs: old.addresses() })).resolves.toMatchObject({ progress: { messages: 40 } })
    await expect(again).resolves.toMatchObject({ totalMessages: 40 })
  })

  it('an old phone that stops sending mid-transfer: the new phone hears so in words, and resumes without the code once it offers again', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const cancel = new AbortController()
    const code = generateCode()
    const offerEnded = old.send({ code, signal: cancel.signal }).then(() => undefined, (err: unknown) => err)
    let stopped = false
    const received = fresh.receive({
      addrs: old.addresses(),
      code,
      // The old phone's person stops sending once the history has begun to arrive; the new phone reads
      // on only once that offer has ended, so it comes back to a phone that no longer sends.
      beforeRead: async () => {
        if (stopped) return
        stopped = true
        cancel.abort()
        await offerEnded
      }
    })
    await expect(received).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && e.details?.from === 'sender' &&
      /^the old phone stopped sending its history\. What arrived is kept here: receive again \(no new code is needed\) once it offers its history again$/.test(e.message))
    expect(isFerryError(await offerEnded, ErrorCode.CANCELLED)).toBe(true)
    const offered = old.send({})
    await expect(fresh.receive({ addrs: old.addresses() })).resolves.toMatchObject({ progress: { messages: 40 } })
    await expect(offered).resolves.toMatchObject({ totalMessages: 40 })
  })

  it('a phone reached that offers nothing says so in words (NO_PEER, not offering), tried again within retryForMs', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const interrupted: FerryError[] = []
    const err = await fresh.receive({ addrs: old.addresses(), code: generateCode(), retryForMs: 300, onEvent: e => { if (e.type === 'interrupted') interrupted.push(e.error) } })
      .then(() => undefined, (e: unknown) => e)
    expect(err).toSatisfy(e => isFerryError(e, ErrorCode.NO_PEER) && e.details?.notOffering === true)
    expect((err as FerryError).message).toBe('pairing: the old phone is on the network but not offering a transfer (yet): start sending there')
    // Each try heard the same, and was tried again: an old phone started again may be about to offer.
    expect(interrupted.length).toBeGreaterThan(0)
    expect(interrupted.every(e => e.code === ErrorCode.NO_PEER && e.details?.notOffering === true)).toBe(true)
    // The tries spent none of the code's three guesses: nothing of it was tested.
    const code = generateCode()
    await expect(fresh.receive({ addrs: old.addresses(), code, retryForMs: 300 })).rejects.toSatisfy(e => isFerryError(e, ErrorCode.NO_PEER))
    const offered = old.send({ code })
    await fresh.receive({ addrs: old.addresses(), code })
    await offered
    expect(messagesOn(fresh)).toBe(40)
  })

  it('a fourth try after three wrong codes hears that the code is dead', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const offered = old.send({ code: generateCode() })
    const outcome = offered.then(() => undefined, (e: unknown) => e)
    for (let i = 0; i < 3; i++) {
      await expect(fresh.receive({ addrs: old.addresses(), code: generateCode() })).rejects.toSatisfy(e => isFerryError(e, ErrorCode.WRONG_CODE))
    }
    expect(isFerryError(await outcome, ErrorCode.CODE_EXPIRED)).toBe(true)
    await expect(fresh.receive({ addrs: old.addresses(), code: generateCode() })).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
  })

  it('the old phone\'s addresses: none is BAD_INPUT at once, and its QR code\'s strings dial', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    await expect(fresh.receive({ addrs: [], code: generateCode() })).rejects.toSatisfy(e => isFerryError(e, ErrorCode.BAD_INPUT))
    await expect(fresh.receive({ addrs: ['not an address'], code: generateCode() }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.BAD_INPUT) && /not an address of the other phone: not an address/.test(e.message))
    const code = generateCode()
    const offered = old.send({ code })
    // The QR code carries the addresses without the peer id (it rides once, beside them).
    const qr = buildQrPayload({ code, peerId: old.node.peerId.toString(), addrs: old.addresses().map(a => a.decapsulateCode(421).toString()) })
    const scanned = parseQrPayload(qr)
    expect(scanned.addrs.every(a => !a.includes('/p2p/'))).toBe(true)
    await fresh.receive({ addrs: qrDialAddrs(scanned), code: scanned.code })
    await offered
    expect(messagesOn(fresh)).toBe(40)
  })

  it('a phone whose node cannot start leaves its folder free to try again', async () => {
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    const dir = tempDir('lifecycle-')
    await expect(createFerry(dir, { listen: [`/ip4/127.0.0.1/tcp/${port}`], memory: false })).rejects.toThrow()
    await new Promise<void>(resolve => taken.close(() => resolve()))
    // Another process (the app restarted, a tool) may write the store: nothing holds its lock.
    const store = pathToFileURL(join(process.cwd(), 'dist/store/sqlite-store.js')).href
    const other = execFileSync(process.execPath, ['--input-type=module', '-e',
      `import { SqliteChatStore } from ${JSON.stringify(store)}
       try { SqliteChatStore.open(${JSON.stringify(dir)}).close(); console.log('opened') } catch (e) { console.log(e.code) }`], { encoding: 'utf8' })
    expect(other.trim()).toBe('opened')
    const again = await createFerry(dir, { listen, memory: false })
    phones.push(again)
    expect(again.addresses().length).toBeGreaterThan(0)
  })

  it('a phone whose journal is damaged says it is the journal, not the history, and leaves its folder free', async () => {
    const dir = tempDir('lifecycle-')
    const first = await createFerry(dir, { listen, memory: false })
    await fillStore(first.store, { conversations: 2, messagesPerConversation: 20, mediaSizes: [] })
    await first.stop()
    // A disk fault over the journal alone: the history beside it reads as well as before.
    const journal = join(dir, 'journal')
    for (const f of ['journal.db-wal', 'journal.db-shm']) rmSync(join(journal, f), { force: true })
    writeFileSync(join(journal, 'journal.db'), randomBytes(16 * 1024))
    // Asked twice in the same process: the same reason both times, not "in use" by a phone that never started.
    for (const attempt of [1, 2]) {
      const err = await createFerry(dir, { listen, memory: false }).then(() => undefined, (e: unknown) => e)
      expect(err, `attempt ${attempt}`).toSatisfy(e => isFerryError(e, ErrorCode.STORE) && e.details?.reason === 'damaged-journal')
      const message = (err as FerryError).message
      expect(message).toContain(`opening the journal in ${journal}: Ferry's journal (journal.db) is damaged`)
      expect(message).toContain(`move the folder ${journal} aside`)
      // Never the advice for a damaged history, which would have a person replace a good one.
      expect(message).not.toMatch(/history\.db\) is damaged|ferry restore|ferry receive/)
    }
    // Another process (the app restarted, a tool) may open the store: nothing holds its lock.
    const store = pathToFileURL(join(process.cwd(), 'dist/store/sqlite-store.js')).href
    const other = execFileSync(process.execPath, ['--input-type=module', '-e',
      `import { SqliteChatStore } from ${JSON.stringify(store)}
       try { SqliteChatStore.open(${JSON.stringify(dir)}).close(); console.log('opened') } catch (e) { console.log(e.code) }`], { encoding: 'utf8' })
    expect(other.trim()).toBe('opened')
    // As the message says: the journal set aside, the phone starts with its whole history.
    renameSync(journal, join(dir, 'journal.damaged'))
    const again = await createFerry(dir, { listen, memory: false })
    phones.push(again)
    expect(messagesOn(again)).toBe(40)
    expect(existsSync(join(journal, 'journal.db'))).toBe(true)
  })

  it('stopped after a transfer, the phones leave no timer that keeps the app\'s process running', () => {
    // The embedding guide's example in a process of its own (the built package, as an app has it), which then
    // lists the timers still holding its event loop: libp2p's address manager left a one-second write
    // behind each stopped node, so an app that had finished waited that long to exit.
    const node = pathToFileURL(join(process.cwd(), 'dist/node.js')).href
    const dir = tempDir('lifecycle-')
    const out = execFileSync(process.execPath, ['--input-type=module', '-e',
      `import { createHook } from 'node:async_hooks'
       import { join } from 'node:path'
       import { createFerry, generateCode } from ${JSON.stringify(node)}
       const timers = new Map()
       createHook({ init (id, type, _t, res) { if (type === 'Timeout') timers.set(id, res) }, destroy (id) { timers.delete(id) } }).enable()
       const listen = ${JSON.stringify(listen)}
       const oldPhone = await createFerry(join(${JSON.stringify(dir)}, 'old'), { listen })
       const newPhone = await createFerry(join(${JSON.stringify(dir)}, 'new'), { listen })
       oldPhone.store.putMetadata([{ id: 'ana', name: 'Ana' }], [{ id: 'c', kind: 'direct', title: 'Ana', members: ['ana'] }], [])
       oldPhone.store.putMessages([{ conversation: 'c', id: 'm1', sender: 'ana', ts: 1, kind: 'text', text: 'hi' }])
       const code = generateCode()
       const offered = oldPhone.send({ code })
       const { summary } = await newPhone.receive({ addrs: oldPhone.addresses(), code })
       await offered
       await oldPhone.stop()
       await newPhone.stop()
       // A timer of a tick or two is work finishing; one of 100 ms or more holds an app that is done.
       const held = [...timers.values()].filter(t => t.hasRef() && t._idleTimeout >= 100).map(t => t._idleTimeout)
       console.log(JSON.stringify({ messages: summary[0].messages, held }))`], { encoding: 'utf8' })
    expect(JSON.parse(out.trim().split('\n').pop() as string)).toEqual({ messages: 1, held: [] })
  })

  it('a folder holding other files is no phone\'s: BAD_INPUT names them, and the folder is left as it was', async () => {
    const dir = tempDir('not-a-phone-')
    writeFileSync(join(dir, 'notes.txt'), 'mine')
    const refused = await createFerry(dir, { listen, memory: false }).then(p => { phones.push(p); return p }, (err: unknown) => err)
    expect(refused).toSatisfy(e => isFerryError(e, ErrorCode.BAD_INPUT) && e.message.includes(dir) && e.message.includes('notes.txt'))
    expect(readdirSync(dir)).toEqual(['notes.txt'])
  })

  it('a second phone on the folder of a running one is STORE_BUSY, and the first moves its history all the same', async () => {
    const old = await oldPhone()
    // Same process, so the store's lock (the process's own) does not stand in the way: createFerry does.
    const second = await createFerry(old.store.dir, { listen, memory: false }).then(p => { phones.push(p); return p }, (err: unknown) => err)
    expect(second).toSatisfy(e => isFerryError(e, ErrorCode.STORE_BUSY) && e.message ===
      `store ${old.store.dir} is in use by another phone this process made, which has not stopped: one phone at a time may use a store. Go on with that phone, or call its stop() before making a new one here`)
    const fresh = await phone()
    const code = generateCode()
    const offered = old.send({ code })
    await fresh.receive({ addrs: old.addresses(), code })
    await expect(offered).resolves.toMatchObject({ totalMessages: 40 })
    // Once the first stops, the folder takes a phone again, with its history.
    await old.stop()
    const again = await createFerry(old.store.dir, { listen, memory: false })
    phones.push(again)
    expect(messagesOn(again)).toBe(40)
    expect(again.node.peerId.equals(old.node.peerId)).toBe(true)
  })

  // The app's handler is guarded where the service runs it, so an app on FerryService itself is too.
  const faces: Array<[string, (p: Ferry) => Pick<Ferry, 'send' | 'receive'>]> = [
    ['createFerry', p => p],
    ['FerryService', p => ({ send: async o => await p.node.services.ferry.offer(o), receive: async o => await p.node.services.ferry.receive(o) })]
  ]

  it.each(faces)('a receive whose onEvent throws ends with CANCELLED naming the throw, and resumes without the code (%s)', async (_, face) => {
    const old = await oldPhone()
    const fresh = await phone()
    const code = generateCode()
    const offered = face(old).send({ code })
    const bug = new Error('the chat list is not mounted')
    const ended = await face(fresh).receive({ addrs: old.addresses(), code, onEvent: e => { if (e.type === 'manifest') throw bug } }).then(() => 'verified', (err: unknown) => err)
    expect(ended).toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && e.message.includes('the chat list is not mounted') && e.cause === bug)
    // The app mended, the transfer carries on with the pairing it kept.
    await expect(face(fresh).receive({ addrs: old.addresses() })).resolves.toMatchObject({ progress: { messages: 40 } })
    await expect(offered).resolves.toMatchObject({ totalMessages: 40 })
    expect(messagesOn(fresh)).toBe(40)
  })

  it.each(faces)('an offer whose onEvent throws ends with CANCELLED naming the throw, and the phone can offer again (%s)', async (_, face) => {
    const old = await oldPhone()
    const fresh = await phone()
    await expect(face(old).send({ code: generateCode(), onEvent: e => { if (e.type === 'offering') throw new Error('no QR view yet') } }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && e.message.includes('no QR view yet'))
    const code = generateCode()
    const offered = face(old).send({ code })
    await face(fresh).receive({ addrs: old.addresses(), code })
    await expect(offered).resolves.toMatchObject({ totalMessages: 40 })
  })

  // Ferry does not wait for an async handler, but hears its rejection: left alone, the process would die
  // of it (an unhandled rejection) while the transfer went on.
  it.each(faces)('a receive whose async onEvent rejects ends with CANCELLED naming it, and resumes without the code (%s)', async (_, face) => {
    const old = await oldPhone()
    const fresh = await phone()
    const code = generateCode()
    const offered = face(old).send({ code })
    const bug = new Error('db write failed')
    const ended = await face(fresh).receive({ addrs: old.addresses(), code, onEvent: async e => { if (e.type === 'manifest') throw bug } }).then(() => 'verified', (err: unknown) => err)
    expect(ended).toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && /onEvent handler rejected on 'manifest': db write failed/.test(e.message) && e.cause === bug)
    await expect(face(fresh).receive({ addrs: old.addresses() })).resolves.toMatchObject({ progress: { messages: 40 } })
    await expect(offered).resolves.toMatchObject({ totalMessages: 40 })
    expect(messagesOn(fresh)).toBe(40)
  })

  it.each(faces)('an offer whose async onEvent rejects ends with CANCELLED naming it, and the phone can offer again (%s)', async (_, face) => {
    const old = await oldPhone()
    const fresh = await phone()
    await expect(face(old).send({ code: generateCode(), onEvent: async e => { if (e.type === 'offering') throw new Error('no QR view yet') } }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && /onEvent handler rejected on 'offering': no QR view yet/.test(e.message))
    const code = generateCode()
    const offered = face(old).send({ code })
    await face(fresh).receive({ addrs: old.addresses(), code })
    await expect(offered).resolves.toMatchObject({ totalMessages: 40 })
  })

  it.each(faces)('an offer whose onEvent throws on verified still resolves verified: the history arrived (%s)', async (_, face) => {
    const old = await oldPhone()
    const fresh = await phone()
    const code = generateCode()
    const offered = face(old).send({ code, onEvent: e => { if (e.type === 'verified') throw new Error('the done screen is not mounted') } })
    await face(fresh).receive({ addrs: old.addresses(), code })
    await expect(offered).resolves.toMatchObject({ totalMessages: 40 })
    // The code paired a phone: one that comes with it now hears it was used, not that the offer was cancelled.
    const late = await phone()
    await expect(late.receive({ addrs: old.addresses(), code })).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
  })

  it('a second offer while one is open is the app\'s mistake (BAD_INPUT), and leaves the first open', async () => {
    const old = await oldPhone()
    const fresh = await phone()
    const code = generateCode()
    const offered = old.send({ code })
    let second: Promise<unknown> | undefined
    // Once paired, the first offer is surely open.
    await fresh.receive({ addrs: old.addresses(), code, onEvent: e => { if (e.type === 'paired') second ??= old.send({ code: generateCode() }).then(() => undefined, (err: unknown) => err) } })
    await expect(offered).resolves.toMatchObject({ totalMessages: 40 })
    expect(isFerryError(await second, ErrorCode.BAD_INPUT)).toBe(true)
  })
})
