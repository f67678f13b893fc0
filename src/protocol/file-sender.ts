import { ErrorCode, FerryError } from '../errors.js'
import type { ChatStoreReader } from '../store/chat-store.js'
import type { Selection } from '../store/model.js'
import { asFrame, type EncodedFrame } from '../wire/codec.js'
import { PROTOCOL_VERSION } from './options.js'
import { selectionToWire } from './selection.js'
import { SenderMachine, type SenderProgress } from './sender.js'
import type { TransferOptions } from './options.js'

export interface FileSenderInit {
  source: ChatStoreReader
  selection?: Selection
  options?: Partial<Omit<TransferOptions, 'windowBytes'>>
  agent?: string
}

/**
 * The frame stream a SenderMachine emits for a fresh receiver, with no receiver: a synthetic one asks for
 * `selection` in its Hello, answers the manifest with an empty Resume (it holds nothing), and never
 * limits the window. Frames come one at a time, so a history of any size streams in constant memory
 * (media chunks reference at most `chunkBytes` of one file).
 *
 * Yields: the sender's Hello, Manifest..., MessageBatch/MessageFragment..., MediaChunk..., Done.
 */
export class FileSender {
  readonly machine: SenderMachine

  constructor (init: FileSenderInit) {
    this.machine = new SenderMachine({
      source: init.source,
      agent: init.agent ?? 'ferry-backup',
      options: { ...init.options, windowBytes: Number.MAX_SAFE_INTEGER }
    })
    this.selection = init.selection ?? {}
  }

  private readonly selection: Selection

  get progress (): SenderProgress { return this.machine.progress }

  * frames (): Generator<EncodedFrame> {
    const m = this.machine
    yield * m.start()
    m.onFrame(asFrame({ hello: { version: PROTOCOL_VERSION, agent: 'ferry-backup-file', request: selectionToWire(this.selection) } }))
    let f: EncodedFrame | undefined
    while ((f = m.poll()) !== undefined) yield f // the manifest
    if (m.state !== 'resume') throw new FerryError(ErrorCode.INTERNAL, `backup: sender in state ${m.state} after its manifest`)
    m.onFrame(asFrame({ resume: { mediaHave: new Uint8Array(0), partial: [] } }))
    while ((f = m.poll()) !== undefined) yield f
    if ((m.state as string) !== 'done-sent') throw new FerryError(ErrorCode.INTERNAL, `backup: sender stopped in state ${m.state}`)
  }
}
