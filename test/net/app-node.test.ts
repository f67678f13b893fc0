import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { describe, expect, it } from 'vitest'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import type { SlotLimits } from '../../src/net/connection-slots.js'
import { ferry, type FerryEvent, type FerryService } from '../../src/net/ferry-service.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { generateCode } from '../../src/pairing/index.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { exportText, fillStore, tempDir } from '../helpers/stores.js'
import { until } from '../helpers/until.js'

// Ferry as a service in an app's own libp2p node (docs/embedding.md), beside the app's own protocol: a
// chat that echoes what it is sent. The app's connections are the app's: Ferry's connection slots judge
// only connections that come for Ferry, and a receive that is cancelled or refused ends Ferry's streams,
// never the connection under the app's chat with the same phone.

const CHAT = '/myapp/chat/1.0.0'
const listen = ['/ip4/127.0.0.1/tcp/0']

interface AppPhone {
  node: Libp2p<{ ferry: FerryService }>
  store: SqliteChatStore
  journal: NodeJournal
  stop: () => Promise<void>
}

/** The app's chat, one line at a time: what is sent comes back whole. */
class Chat {
  private readonly it: AsyncIterator<Uint8Array | { subarray: () => Uint8Array }>
  constructor (readonly stream: Stream) {
    this.it = stream[Symbol.asyncIterator]()
  }

  async say (text: string): Promise<string> {
    const sent = new TextEncoder().encode(text)
    this.stream.send(sent)
    let got = new Uint8Array(0)
    while (got.length < sent.length) {
      const r = await this.it.next()
      if (r.done === true) throw new Error(`the chat ended after ${got.length} of ${sent.length} bytes`)
      const piece = r.value instanceof Uint8Array ? r.value : r.value.subarray()
      got = Uint8Array.from([...got, ...piece])
    }
    return new TextDecoder().decode(got)
  }
}

describe('Ferry in an app\'s own node', () => {
  const { nodes } = stoppedAfterEach<{ stop: () => unknown }>()

  async function appPhone (slots?: Partial<SlotLimits>): Promise<AppPhone> {
    const dir = tempDir('app-node-')
    const store = SqliteChatStore.open(dir, { create: true })
    const journal = NodeJournal.open(dir)
    const node = await createLibp2p({
      addresses: { listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // A stranger's stalled pairing is left to the slots' deadline, not to the pairing's own.
      services: { ferry: ferry({ history: store, journal, slots, pairTimeoutMs: 60_000 }) }
    })
    await node.handle(CHAT, async stream => {
      for await (const chunk of stream) stream.send(chunk)
      await stream.close()
    })
    const phone = {
      node,
      store,
      journal,
      stop: async () => {
        await node.stop()
        await journal.close()
        store.close()
      }
    }
    nodes.push(phone)
    return phone
  }

  /** A peer of the app's that listens nowhere: a friend chatting, or a stranger. */
  async function peer (): Promise<Libp2p> {
    const node = await createLibp2p({ privateKey: await generateKeyPair('Ed25519'), transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    nodes.push(node)
    return node
  }

  async function closed (node: Libp2p, conn: Connection): Promise<void> {
    await new Promise<void>(resolve => {
      if (conn.status === 'closed') { resolve(); return }
      node.addEventListener('connection:close', evt => { if (evt.detail.id === conn.id) resolve() })
    })
  }

  it('keeps the connections of three of the app\'s peers past the pairing deadline, an offer open or not, while a stranger that came to pair goes', async () => {
    // Three peers from one address: on a node Ferry made, the third would push out the first at once.
    const app = await appPhone({ pairWithinMs: 300 })
    const addr = app.node.getMultiaddrs()[0]
    const friends = await Promise.all([1, 2, 3].map(async () => await peer()))
    const chats: Chat[] = []
    for (const f of friends) chats.push(new Chat(await (await f.dial(addr)).newStream(CHAT)))
    for (const [i, c] of chats.entries()) expect(await c.say(`hello ${i}`)).toBe(`hello ${i}`)

    /**
     * A stranger opens a pairing stream and says nothing: its connection, judged from then on, goes at
     * the deadline. The friends, connected before it came, are then past their own deadline too.
     */
    const strangerStalls = async (): Promise<void> => {
      const stranger = await peer()
      const conn = await stranger.dial(addr)
      await conn.newStream(PAIR_PROTOCOL)
      await closed(stranger, conn)
    }
    const stillChatting = async (when: string): Promise<void> => {
      expect(friends.map(f => f.getConnections().map(c => c.status)), when).toEqual([['open'], ['open'], ['open']])
      for (const [i, c] of chats.entries()) expect(await c.say(`${when} ${i}`)).toBe(`${when} ${i}`)
    }

    await strangerStalls()
    expect(app.node.services.ferry.slots?.closed).toMatchObject({ 'not-paired-in-time': 1, 'address-full': 0, 'peer-full': 0, 'pushed-out': 0 })
    await stillChatting('no offer')

    const stop = new AbortController()
    const offered = app.node.services.ferry.offer({ code: generateCode(), signal: stop.signal }).catch(() => undefined)
    await strangerStalls()
    expect(app.node.services.ferry.slots?.closed).toMatchObject({ 'not-paired-in-time': 2, 'address-full': 0, 'peer-full': 0, 'pushed-out': 0 })
    await stillChatting('an offer open')
    stop.abort()
    await offered
  })

  it('a receive cancelled mid-way leaves the app\'s chat with the old phone on the same connection; a resume then verifies', async () => {
    const old = await appPhone()
    await fillStore(old.store, { conversations: 3, messagesPerConversation: 3000, mediaSizes: [] })
    const fresh = await appPhone()
    const conn = await fresh.node.dial(old.node.getMultiaddrs()[0])
    const chat = new Chat(await conn.newStream(CHAT))
    expect(await chat.say('moving to my new phone')).toBe('moving to my new phone')

    const code = generateCode()
    const offered = old.node.services.ferry.offer({ code })
    const cancel = new AbortController()
    let cancelledAt: { messages: number, totalMessages: number } | undefined
    const onEvent = (e: FerryEvent): void => {
      if (e.type === 'progress' && e.progress.messages > 0 && cancelledAt === undefined) {
        cancelledAt = e.progress
        cancel.abort()
      }
    }
    await expect(fresh.node.services.ferry.receive({ addrs: old.node.getMultiaddrs(), code, signal: cancel.signal, onEvent }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED))
    expect(cancelledAt!.messages).toBeLessThan(cancelledAt!.totalMessages)

    // The receive ran over the app's connection, and the cancel ended only Ferry's streams on it.
    expect(fresh.node.getConnections(old.node.peerId).map(c => c.id)).toEqual([conn.id])
    expect(conn.status).toBe('open')
    expect(await chat.say('still here?')).toBe('still here?')

    // Receiving again resumes with the pairing made before, over the same connection, and verifies.
    const got = await fresh.node.services.ferry.receive({ addrs: old.node.getMultiaddrs() })
    expect(got.progress.messages).toBe(9000)
    await expect(offered).resolves.toMatchObject({ messages: 9000, totalMessages: 9000 })
    expect(await exportText(fresh.store)).toBe(await exportText(old.store))
    expect(fresh.node.getConnections(old.node.peerId).map(c => c.id)).toEqual([conn.id])
    expect(await chat.say('all here')).toBe('all here')
  })

  it('a wrong code typed over the app\'s connection is refused, and the connection and its chat stay on both phones', async () => {
    const old = await appPhone({ lingerMs: 50 })
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 10, mediaSizes: [] })
    const fresh = await appPhone()
    const conn = await fresh.node.dial(old.node.getMultiaddrs()[0])
    const chat = new Chat(await conn.newStream(CHAT))
    expect(await chat.say('hi')).toBe('hi')
    const code = generateCode()
    const stop = new AbortController()
    let failed = 0
    const offered = old.node.services.ferry.offer({ code, signal: stop.signal, onEvent: e => { if (e.type === 'pair-failed') failed++ } }).catch(() => undefined)
    const wrong = { ...code, secret: code.secret.slice(0, -1) + String((Number(code.secret.slice(-1)) + 1) % 10) }
    await expect(fresh.node.services.ferry.receive({ addrs: old.node.getMultiaddrs(), code: wrong }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.WRONG_CODE))
    // The old phone heard the attempt fail, and holds the connection in none of its slots: the app uses
    // it, so it is not Ferry's to close once the failed pairing's linger is over.
    const slots = old.node.services.ferry.slots!
    await until('the old phone done with the failed attempt', () => failed === 1 && slots.unpairedCount === 0)
    expect(fresh.node.getConnections(old.node.peerId).map(c => [c.id, c.status])).toEqual([[conn.id, 'open']])
    expect(await chat.say('typo, sorry')).toBe('typo, sorry')
    stop.abort()
    await offered
  })
})
