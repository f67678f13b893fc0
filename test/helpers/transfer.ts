import { expect } from 'vitest'
import { SenderMachine } from '../../src/protocol/sender.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import { runReceiver, runSender } from '../../src/protocol/session.js'
import { memoryPipe, type PipeOptions } from '../../src/wire/memory-duplex.js'
import { decodeFrame, encodeFrame, frameLength, type BatchDeflate, type EncodedFrame, type ferry, type Frame } from '../../src/wire/codec.js'
import type { HistorySink, HistorySource } from '../../src/store/history.js'
import type { Journal } from '../../src/journal/journal.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import type { Selection } from '../../src/store/model.js'
import type { TransferOptions } from '../../src/protocol/options.js'
import type { FerryError } from '../../src/errors.js'

export interface RunOptions extends PipeOptions {
  offer?: Selection
  request?: Selection
  options?: Partial<TransferOptions>
  /** Rewrites the sender's outgoing frames: return a list to send instead (empty drops the frame). */
  tamper?: (frame: ferry.Frame, n: number) => ferry.Frame.$Properties[]
  /** Rewrites each frame the sender decoded before it processes it (an older sender ignoring a field). */
  senderHears?: (frame: Frame) => Frame
  /** Sees every frame the receiver decoded (before processing). */
  onReceived?: (frame: Frame) => void
  /** The receiver's journal (default: the one beside the target store). */
  journal?: Journal
  /** The receiver's free-space probe (ReceiverInit.freeBytes). */
  freeBytes?: () => Promise<number>
  /** The sender's batch deflate (SenderInit.deflate). */
  deflate?: BatchDeflate['deflate']
  /** The receiver's batch inflate (ReceiverInit.inflate): given, it asks for deflated batches. */
  inflate?: BatchDeflate['inflate']
  /** ReceiverInit.restoreDeleted: bring back what the new phone's owner deleted. */
  restoreDeleted?: boolean
}

export interface RunResult {
  sender: SenderMachine
  receiver: ReceiverMachine
  senderError?: FerryError
  receiverError?: FerryError
  bytesAtoB: number
  bytesBtoA: number
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

/** Makes `sender` send what `tamper` makes of each frame it would have sent (also used over real libp2p). */
export function tamperSender (sender: SenderMachine, tamper: NonNullable<RunOptions['tamper']>): void {
  const next = sender.next.bind(sender)
  const pending: EncodedFrame[] = []
  let n = 0
  let inside = false
  sender.next = async () => {
    // The machine's next calls itself (through this wrapper) when a phase ends: that inner call must
    // not tamper too, or the first frame of the next phase is tampered twice (a flip undone).
    if (inside) return await next()
    inside = true
    try {
      while (pending.length === 0) {
        const f = await next()
        if (f === undefined) return undefined
        const original = decodeFrame(concat(f))
        const replaced = tamper(original, n++).map(p => encodeFrame(p))
        // Keep the sender's flow-control books right, so only the receiver's checks judge the lie.
        if (['batch', 'deflatedBatch', 'chunk', 'fragment'].includes(original.body)) {
          sender.progress.bytesSent += replaced.reduce((x, r) => x + frameLength(r), 0) - frameLength(f)
        }
        pending.push(...replaced)
      }
      return pending.shift()
    } finally {
      inside = false
    }
  }
}

const journals = new Map<string, NodeJournal>()

/** The journal beside a store in a directory (one per directory, kept open until closeJournals). */
export function journalOf (store: { dir: string }): NodeJournal {
  let j = journals.get(store.dir)
  if (j === undefined) journals.set(store.dir, j = NodeJournal.open(store.dir))
  return j
}

/** Closes the journal of one store (a test that made many stores). */
export async function closeJournal (store: { dir: string }): Promise<void> {
  await journals.get(store.dir)?.close()
  journals.delete(store.dir)
}

export async function closeJournals (): Promise<void> {
  for (const j of journals.values()) await j.close()
  journals.clear()
}

/** Runs one session of the engine over an in-memory pipe; errors are returned, not thrown. */
export async function runTransfer (source: HistorySource, target: HistorySink & { dir?: string }, opts: RunOptions = {}): Promise<RunResult> {
  const pipe = memoryPipe(opts)
  const sender = new SenderMachine({ source, offer: opts.offer, options: opts.options, deflate: opts.deflate })
  const journal = opts.journal ?? journalOf(target as { dir: string })
  const receiver = new ReceiverMachine({ sink: target, journal, request: opts.request, options: opts.options, freeBytes: opts.freeBytes, inflate: opts.inflate, restoreDeleted: opts.restoreDeleted })
  if (opts.tamper !== undefined) tamperSender(sender, opts.tamper)
  if (opts.senderHears !== undefined) {
    const hears = opts.senderHears
    const onFrame = sender.onFrame.bind(sender)
    sender.onFrame = async frame => { await onFrame(hears(frame)) }
  }
  if (opts.onReceived !== undefined) {
    const seen = opts.onReceived
    const onFrame = receiver.onFrame.bind(receiver)
    receiver.onFrame = async (frame, size) => { seen(frame); return await onFrame(frame, size) }
  }
  const [s, r] = await Promise.allSettled([runSender(sender, pipe.a), runReceiver(receiver, pipe.b)])
  return {
    sender,
    receiver,
    senderError: s.status === 'rejected' ? s.reason : undefined,
    receiverError: r.status === 'rejected' ? r.reason : undefined,
    bytesAtoB: pipe.bytesAtoB,
    bytesBtoA: pipe.bytesBtoA
  }
}

/** runTransfer, expected to end verified, the receiver with no error. */
export async function verifiedTransfer (source: HistorySource, target: HistorySink & { dir?: string }, opts: RunOptions = {}): Promise<RunResult> {
  const run = await runTransfer(source, target, opts)
  expect(run.receiverError).toBeUndefined()
  expect(run.receiver.state).toBe('verified')
  return run
}

export interface InterruptedSession {
  /** The frame the session stops at: `change` runs as its first one reaches the new phone, before it is taken. */
  at: Frame['body']
  change?: (receiver: ReceiverMachine) => unknown
  /** Then the link drops there (the frame, in flight, is still taken). */
  cut?: boolean
  /** The link drops as the first frame of this kind comes, which is not taken. */
  dropAt?: Frame['body']
  options?: Partial<TransferOptions>
}

/**
 * One session of a transfer from `source` to `target` in which something happens as a frame comes: the
 * person changes the new phone (`change`), the link drops (`cut`, `dropAt`). Returns the receiver, the
 * error it ended with, and whether the session reached `at` at all.
 */
export async function interruptedSession (source: HistorySource, target: HistorySink & { dir?: string }, o: InterruptedSession): Promise<{ receiver: ReceiverMachine, error?: FerryError, reached: boolean }> {
  const pipe = memoryPipe()
  const sender = new SenderMachine({ source, options: o.options })
  const receiver = new ReceiverMachine({ sink: target, journal: journalOf(target as { dir: string }), options: o.options })
  const onFrame = receiver.onFrame.bind(receiver)
  let reached = false
  receiver.onFrame = async (f, size) => {
    if (f.body === o.at && !reached) {
      reached = true
      await o.change?.(receiver)
      if (o.cut === true) pipe.break('link dropped')
    }
    if (o.dropAt !== undefined && f.body === o.dropAt) {
      pipe.break('link dropped')
      throw new Error('link dropped')
    }
    return await onFrame(f, size)
  }
  const [, r] = await Promise.allSettled([runSender(sender, pipe.a), runReceiver(receiver, pipe.b)])
  return { receiver, error: r.status === 'rejected' ? r.reason : undefined, reached }
}
