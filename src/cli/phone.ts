import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError } from '../errors.js'
import { createFerryNode, type FerryNode } from '../net/node.js'
import { defaultListen, kindOf, type TransportChoice } from '../net/transports.js'
import { startOnPreviousPorts } from '../net/previous-ports.js'
import { hostOf } from '../net/addresses.js'
import { cidrOf, subnetFor } from '../net/subnets.js'
import { ferry, type FerryEvent, type FerryService } from '../net/ferry-service.js'
import type { Progress } from '../net/transfer-events.js'
import { count, describeStats } from '../net/describe-stats.js'
import { nodeBatchDeflate } from '../wire/deflate-node.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { NodeJournal } from '../journal/node-journal.js'
import { PairingRecords, type PairingRecord } from '../journal/pairing-records.js'
import { serviceTag } from '../pairing/index.js'
import { formatBytes } from '../format-bytes.js'
import { stallWaitsFrom } from './test-waits.js'
import { jsonProgress, terminalProgress, type ProgressView } from './progress.js'
import { jsonEvent } from './json-lines.js'
import { nodeTransferMemory } from '../memory/transfer-memory.js'
import { holdYoungGeneration } from '../memory/young-generation.js'

const log = logger('ferry:cli')

/** A simulated phone's storage: its store, Ferry's journal beside it, and the pairing it remembers. */
export interface Storage {
  store: SqliteChatStore
  journal: NodeJournal
  pairing?: PairingRecord
  /** A pairing that expired (its token unused for 24 hours): there is nothing to resume, and why. */
  expiredPairing?: PairingRecord
  close(): Promise<void>
}

/** Opens the store (creating it when `create`), then the journal in it. */
export async function openStorage (storeDir: string, create: boolean): Promise<Storage> {
  // A person at the command line makes a store with a command, not an option: the refusal names none.
  const store = SqliteChatStore.open(storeDir, { create, missingHint: '' })
  let journal: NodeJournal | undefined
  try {
    journal = NodeJournal.open(storeDir)
    const { record: pairing, expired: expiredPairing } = await new PairingRecords(journal).loadOrExpired()
    const j = journal
    return { store, journal, pairing, expiredPairing, close: async () => { await j.close(); store.close() } }
  } catch (err) {
    await journal?.close()
    store.close()
    throw err
  }
}

/**
 * A simulated phone: a store, a libp2p node and the Ferry service on it. Until it closes, it scavenges
 * as the buffers it moves pile up (buffer-scavenger.ts).
 */
export interface Phone extends Storage {
  node: FerryNode<{ ferry: FerryService }>
  ferry: FerryService
}

export interface PhoneOptions {
  storeDir: string
  listen?: string[]
  /** mDNS scoped to this nameplate, or false. */
  mdnsNameplate?: string | false
  transport?: TransportChoice
  iceServers?: RTCIceServer[]
  /**
   * A resumed sender's own addresses when it paired: where `listen` leaves a port open (0), it listens
   * on the one it had then while that can be bound (startOnPreviousPorts).
   */
  previousAddrs?: string[]
}

export async function openPhone (storage: Storage, o: PhoneOptions): Promise<Phone> {
  const { store, journal } = storage
  // Before the node starts: pairing and the transfer would grow it to V8's largest.
  holdYoungGeneration()
  try {
    const start = async (listen: string[] | undefined): Promise<FerryNode<{ ferry: FerryService }>> => await createFerryNode({
      dir: o.storeDir,
      listen,
      transport: o.transport,
      iceServers: o.iceServers,
      keepCertificate: storage.pairing !== undefined,
      mdns: o.mdnsNameplate === undefined || o.mdnsNameplate === false ? false : { serviceTag: serviceTag(o.mdnsNameplate) },
      services: { ferry: ferry({ history: store, journal, batchDeflate: nodeBatchDeflate, memory: nodeTransferMemory, ...stallWaitsFrom() }) }
    })
    const previous = o.previousAddrs ?? []
    const node = previous.length > 0
      ? await startOnPreviousPorts(o.listen ?? defaultListen(o.transport ?? 'tcp', 'sender'), previous, start)
      : await start(o.listen)
    return {
      ...storage,
      node,
      ferry: node.services.ferry,
      close: async () => {
        await hangUp(node)
        await node.stop()
        await storage.close()
      }
    }
  } catch (err) {
    await storage.close()
    throw err
  }
}

/** How long a phone that is done waits for each connection to close gracefully before cutting it. */
const HANG_UP_MS = 50

/**
 * Closes the phone's connections before the node stops, cutting any that do not close within
 * HANG_UP_MS. When the phone closes, its transfer is over (verified, or failed and told): nothing is
 * left to say. libp2p's stop waits up to 500 ms for each connection's 'close' event, and a connection
 * the peer reset as it exited (the two phones finish together) never sends one: the process then sat
 * half a second after `verified` before it exited.
 */
async function hangUp (node: { getConnections: () => Array<{ close: (o?: { signal?: AbortSignal }) => Promise<void>, abort: (err: Error) => void }> }): Promise<void> {
  await Promise.all(node.getConnections().map(async c => {
    try {
      await c.close({ signal: AbortSignal.timeout(HANG_UP_MS) })
    } catch (err) {
      c.abort(err as Error)
    }
  }))
}

export function parseListen (v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined
  try {
    return v.split(',').map(a => multiaddr(a.trim()).toString())
  } catch (err) {
    throw new FerryError(ErrorCode.BAD_INPUT, `--listen wants multiaddrs like /ip4/0.0.0.0/tcp/4001 or /ip4/0.0.0.0/udp/4001/webrtc-direct: ${(err as Error).message}`)
  }
}

/**
 * With --json, a `connection` event for each connection to another phone: which address and which
 * transport it runs over (what --transport auto chose, for scripts and tests), and which of this phone's
 * interfaces and subnets that address is on (none when it is reached through a router or a VPN).
 */
export function reportConnections (phone: Phone, json: boolean): void {
  if (!json) return
  phone.node.addEventListener('connection:open', (evt) => {
    const c = evt.detail
    const host = hostOf(c.remoteAddr)
    const local = host !== undefined ? subnetFor(host) : undefined
    jsonEvent('connection', {
      peer: c.remotePeer.toString(),
      addr: c.remoteAddr.toString(),
      transport: kindOf(c.remoteAddr) ?? 'other',
      direction: c.direction,
      ...(local !== undefined ? { interface: local.ifname, subnet: cidrOf(local.address, local.prefix) } : {})
    })
  })
}

/**
 * What an `interrupted` event's JSON says of a phone the search found and the receive looks past: it
 * proved nothing of the code (`unproved`), cut the pairing (`cut`, after `cuts` cuts) or could not be
 * reached (`unreachable`).
 */
function lookingOn (details: Record<string, unknown> | undefined): Record<string, unknown> {
  const said: Record<string, unknown> = {}
  if (details?.unproved === true) said.unproved = true
  if (details?.cut === true) said.cut = true
  if (typeof details?.cuts === 'number') said.cuts = details.cuts
  if (details?.unreachable === true) said.unreachable = true
  if (typeof details?.mismatched === 'number') said.mismatched = details.mismatched
  return said
}

/** Renders service events: a progress bar and lines for people, or JSON events with --json. */
/**
 * Says a phone's transfer events to a person (or as JSON events). `other` names the other phone as the
 * person knows it: 'the new phone' for the sender, 'the old phone' for the receiver.
 */
export function eventPrinter (json: boolean, label: string, other: string): { onEvent: (e: FerryEvent) => void, stop: () => void } {
  let view: ProgressView | undefined
  let lastProgress: Progress | undefined
  const say = (line: string): void => { process.stderr.write(line + '\n') }
  // A link that never was cannot be interrupted: before the first pairing an 'interrupted' is a dial
  // that failed. Retries repeat it every second or so; a line is said again only when the reason changes.
  let linked = false
  let lastInterruption: string | undefined
  // The receiver can hear its chats are ready before the manifest is told (a selection holding no
  // message is complete at once): said in that order, 'all 0 messages are in' comes before what they
  // are. The manifest line goes first, then what was held back, or, with nothing to move, that.
  let totalMessages: number | undefined
  let readyBeforeManifest: number | undefined
  const sayReady = (messages: number): void => { say(`all ${count(messages, 'message', 'messages')} are in: the chats can be opened while the media goes on`) }
  const onEvent = (e: FerryEvent): void => {
    if (json) {
      if (e.type === 'progress') { view ??= jsonProgress(); view.update(e.progress); return }
      // After an interruption the next session's first progress is printed at once, whatever the
      // throttle: it is where the resumed transfer starts (a restarted phone reconnects within 0.3 s).
      if (e.type === 'interrupted') view = undefined
      if (e.type === 'pair-failed' || e.type === 'interrupted') {
        jsonEvent(e.type, { at: e.at, code: e.error.code, message: e.error.message, ...lookingOn(e.error.details) })
        return
      }
      jsonEvent(e.type, { ...e, type: undefined })
      return
    }
    if (e.type === 'paired' || e.type === 'progress') lastInterruption = undefined
    switch (e.type) {
      case 'offering':
        // Said once the code's life is known: a sender restarted with the same code has less than ten minutes.
        if (e.codeExpiresAt !== undefined) say(`The code pairs a phone until ${new Date(e.codeExpiresAt).toTimeString().slice(0, 5)} (ten minutes after it was first shown).`)
        break
      case 'paired': linked = true; totalMessages = undefined; say(e.mode === 'code' ? `paired with ${e.peer}` : `reconnected to ${e.peer} (resume token)`); break
      case 'pair-failed': say(`pairing attempt from ${e.peer} failed: ${e.error.message}`); break
      case 'typed-code-spent':
        say('three wrong codes were tried, so typing this code pairs no phone now (someone nearby may be guessing); scanning its QR code still does until the code expires, or stop and run ferry send again for a new code')
        break
      case 'manifest':
        say(`${e.conversations} conversations, ${e.totalMessages} messages, ${formatBytes(e.totalMediaBytes)} of media`)
        if (e.unsent !== undefined) say(`warning: the old phone does not send ${e.unsent.map(c => `'${c}'`).join(', ')}: it holds no such chat, or does not offer it`)
        totalMessages = e.totalMessages
        if (totalMessages === 0) say(`no message is in the selection: only the ${count(e.conversations, 'conversation', 'conversations')} (names and members) move`)
        else if (readyBeforeManifest !== undefined) sayReady(readyBeforeManifest)
        readyBeforeManifest = undefined
        break
      case 'progress': view ??= terminalProgress(label, process.stderr, { phases: true }); view.update(e.progress); lastProgress = e.progress; break
      case 'chats-ready':
        // The last progress can come before the last messages are counted: the messages' bar is filled
        // here, where all of them are in, rather than left short of the line that says so.
        if (lastProgress !== undefined) view?.update({ ...lastProgress, messages: e.messages })
        view?.stop()
        view = undefined
        if (totalMessages === undefined) readyBeforeManifest = e.messages
        else if (totalMessages > 0) sayReady(e.messages)
        break
      case 'verifying': view?.stop(); view = undefined; say(`everything is here: reading ${count(e.messages, 'message', 'messages')} and ${count(e.mediaFiles, 'media file', 'media files')} back to verify them`); break
      case 'interrupted': {
        view?.stop()
        view = undefined
        // A dropped link reads in the transport's words (a stream closed, a connection reset), which a
        // person cannot act on: what matters is that the transfer carries on by itself. The cause stays
        // in the debug log and the JSON event. Before the first link, the reason a dial failed (refused,
        // isolated) is what the person can act on, so it is said.
        log('interrupted (%s): %s', e.error.code, e.error.message)
        // A phone that refused the code without checking it, cut the pairing, could not be reached or
        // holds another code is looked past while the search goes on: the message says so, and why. A session ended to fetch
        // a file whole (media-intake.ts) says why too: the link did not drop.
        const line = e.error.details?.unproved === true || e.error.details?.unreachable === true || e.error.details?.fetchAgain === true ||
          e.error.details?.mismatched !== undefined
          ? e.error.message
          : linked
            ? `the link to ${other} dropped; the transfer carries on where it stopped once ${other} is back...`
            : `cannot reach the other phone (${e.error.message}); retrying...`
        if (line === lastInterruption) break
        lastInterruption = line
        say(line)
        break
      }
      case 'verified':
        view?.stop()
        view = undefined
        say(other === 'the old phone' ? describeStats(e.stats, formatBytes, 'ferry receive --restore-deleted brings them back') : describeStats(e.stats, formatBytes, undefined, 'sender'))
        break
    }
  }
  return { onEvent, stop: () => view?.stop() }
}
