import '../polyfill.js'
import type { Libp2p } from '@libp2p/interface'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import type { PairingCode } from '../pairing/index.js'
import type { ReceiverMachine } from '../protocol/receiver.js'
import { createBrowserNode, loadOrCreateKey } from './browser-node.js'
import { exportNdjsonText, mediaDigests } from './export.js'
import { IdbChatStore } from './idb-store.js'
import { loadPairing, receiveHistory, type WebEvent, type WebProgress } from './receive.js'
import { explain, parseInput, type PairInput } from './pair-input.js'
import { View } from './view.js'

// The browser phone: pairs with a Node phone running `ferry send --transport webrtc`, receives its
// history into IndexedDB, and shows it. After a reload it resumes on its own with the token it kept.

type Phase = 'starting' | 'idle' | 'pairing' | 'receiving' | 'verified' | 'failed'

/** What tests (and curious people, in the console) can see and do: `window.__ferry`. */
export interface FerryDebug {
  state(): { phase: Phase, peerId: string, paused: boolean, mode?: 'code' | 'resume', progress?: WebProgress, error?: { code: string, message: string }, rateBytesPerSec?: number, sessionSeconds?: number }
  events: Array<{ type: WebEvent['type'], at: number, mode?: string, progress?: WebProgress, error?: string }>
  /** Stop reading the transfer once this much has been committed (the transfer then waits, mid-way). */
  pauseAt(at: { messages?: number, mediaBytes?: number }): void
  unpause(): void
  /** Resolves once everything written so far is committed to IndexedDB. */
  flush(): Promise<void>
  exportNdjson(): string
  mediaDigests(): Promise<Record<string, string>>
  stats(): ReturnType<IdbChatStore['stats']>
  /** Deletes this browser's store (and identity) and reloads. */
  startOver(): Promise<void>
}

declare global {
  interface Window { __ferry?: FerryDebug }
}

const DB_NAME = 'ferry'

class App {
  phase: Phase = 'starting'
  mode?: 'code' | 'resume'
  progress?: WebProgress
  error?: FerryError
  paused = false
  private pauseRule?: { messages?: number, mediaBytes?: number }
  private release?: () => void
  private sessionStart?: { t: number, bytes: number }
  rate?: number
  seconds?: number
  readonly events: FerryDebug['events'] = []

  constructor (readonly store: IdbChatStore, readonly node: Libp2p, readonly view: View) {}

  async start (): Promise<void> {
    this.view.onSubmit(input => { void this.submit(input) })
    this.view.onStartOver(() => { void this.startOver() })
    setInterval(() => { this.view.draw() }, 250)
    this.view.draw()
    this.prefillFromUrl()
    const record = await loadPairing(this.store)
    if (record !== undefined) {
      // An unfinished transfer: carry on without the code, as the same peer with the kept token.
      this.view.status('Resuming the unfinished transfer…')
      await this.receive(record.addrs)
      return
    }
    this.phase = 'idle'
    this.view.showForm(true)
    const held = this.store.stats()
    this.view.status(held.messages > 0
      ? `This browser holds ${held.messages.toLocaleString('en')} messages in ${held.conversations} chats. Receive another history, or browse this one.`
      : 'On the old phone run ferry send --transport webrtc, then type its code here.')
  }

  private prefillFromUrl (): void {
    // The QR payload goes in the fragment (#ferry://pair?...): it holds the code's secret, and a
    // fragment is never sent to the server.
    // As pasted, or percent-encoded whole by a link; never decoded twice (the payload has escapes of its own).
    const raw = location.hash.slice(1)
    let hash = raw
    if (!raw.toLowerCase().startsWith('ferry://')) {
      try { hash = decodeURIComponent(raw) } catch {}
    }
    if (hash.toLowerCase().startsWith('ferry://pair?')) {
      this.view.prefill({ addr: hash })
      return
    }
    const peer = new URLSearchParams(location.search).get('peer')
    if (peer !== null) this.view.prefill({ addr: peer })
  }

  private async submit (input: PairInput): Promise<void> {
    this.view.error(undefined)
    let addrs: string[]
    let code: PairingCode
    try {
      ({ addrs, code } = parseInput(input))
    } catch (err) {
      this.view.error(explain(err))
      return
    }
    await this.receive(addrs, code)
  }

  private async receive (addrs: string[], code?: PairingCode): Promise<void> {
    this.phase = 'pairing'
    this.error = undefined
    this.view.showForm(false)
    this.view.error(undefined)
    this.view.status('Connecting to the old phone…')
    try {
      const result = await receiveHistory(this.node, this.store, {
        addrs,
        code,
        onEvent: e => { this.onEvent(e) },
        beforeRead: async machine => { await this.beforeRead(machine) }
      })
      this.phase = 'verified'
      this.view.summary(result.summary, result.progress, this.seconds ?? 0)
      this.view.status('Done. The history is in this browser; browse it below.')
    } catch (err) {
      const e = isFerryError(err) ? err : new FerryError(ErrorCode.INTERNAL, String((err as Error)?.message ?? err))
      this.error = e
      this.phase = 'failed'
      if (e.code === ErrorCode.NOT_PAIRED && code === undefined) {
        // The old phone no longer knows us (it finished, or was reset): only a new code can help.
        await this.store.setMeta('pairing', undefined)
      }
      this.view.error(explain(e))
      this.view.status('Stopped.')
      this.view.showForm(true)
    }
  }

  private onEvent (e: WebEvent): void {
    const entry: FerryDebug['events'][number] = { type: e.type, at: Math.round(performance.now()) }
    switch (e.type) {
      case 'dialing':
        break
      case 'paired':
        this.mode = e.mode
        entry.mode = e.mode
        this.view.status(e.mode === 'code' ? 'Paired. Receiving the history…' : 'Reconnected to the old phone. Continuing where it stopped…')
        break
      case 'manifest':
        this.phase = 'receiving'
        this.sessionStart = { t: performance.now(), bytes: e.progress.bytesReceived }
        this.view.resetRate()
        entry.progress = e.progress
        this.progress = e.progress
        this.view.progress(e.progress)
        break
      case 'progress':
        this.progress = e.progress
        this.view.progress(e.progress)
        break
      case 'interrupted':
        entry.error = `${e.error.code}: ${e.error.message}`
        this.view.status('The connection dropped. Reconnecting…')
        break
      case 'verified':
        entry.progress = e.progress
        this.progress = e.progress
        if (this.sessionStart !== undefined) {
          this.seconds = (performance.now() - this.sessionStart.t) / 1000
          this.rate = (e.progress.bytesReceived - this.sessionStart.bytes) / Math.max(this.seconds, 1e-3)
        }
        break
    }
    this.events.push(entry)
  }

  private async beforeRead (machine: ReceiverMachine): Promise<void> {
    // Read no faster than IndexedDB commits: memory stays bounded whatever the history's size.
    await this.store.drain()
    const rule = this.pauseRule
    const p = machine.progress
    if (rule !== undefined && ((rule.messages !== undefined && p.messages >= rule.messages) || (rule.mediaBytes !== undefined && p.mediaBytes >= rule.mediaBytes))) {
      this.pauseRule = undefined
      this.paused = true
      await new Promise<void>(resolve => { this.release = resolve })
      this.paused = false
    }
  }

  debug (): FerryDebug {
    return {
      state: () => ({
        phase: this.phase,
        peerId: this.node.peerId.toString(),
        paused: this.paused,
        mode: this.mode,
        progress: this.progress,
        error: this.error !== undefined ? { code: this.error.code, message: this.error.message } : undefined,
        rateBytesPerSec: this.rate,
        sessionSeconds: this.seconds
      }),
      events: this.events,
      pauseAt: at => { this.pauseRule = at },
      unpause: () => { this.release?.(); this.release = undefined },
      flush: async () => { await this.store.flush() },
      exportNdjson: () => exportNdjsonText(this.store),
      mediaDigests: async () => await mediaDigests(this.store),
      stats: () => this.store.stats(),
      startOver: async () => { await this.startOver() }
    }
  }

  private async startOver (): Promise<void> {
    try { await this.node.stop() } catch {}
    this.store.close()
    await IdbChatStore.destroy(DB_NAME)
    location.hash = ''
    location.reload()
  }
}

async function boot (): Promise<void> {
  const store = await IdbChatStore.open(DB_NAME)
  const view = new View(store)
  const node = await createBrowserNode(await loadOrCreateKey(store))
  const app = new App(store, node, view)
  window.__ferry = app.debug()
  document.body.dataset.ready = 'true'
  await app.start()
}

boot().catch(err => {
  const el = document.getElementById('error')
  if (el !== null) {
    el.hidden = false
    el.textContent = `The page cannot start: ${(err as Error)?.message ?? String(err)}`
  }
  console.error(err)
})
