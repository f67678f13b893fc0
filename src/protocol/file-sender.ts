import { ErrorCode, FerryError } from '../errors.js'
import type { HistorySource } from '../store/history.js'
import type { Selection } from '../store/model.js'
import { asFrame, type EncodedFrame } from '../wire/codec.js'
import { PROTOCOL_VERSION } from './options.js'
import { selectionToWire } from './selection.js'
import { SenderMachine, type SenderProgress } from './sender.js'
import type { TransferOptions } from './options.js'

export interface FileSenderInit {
  source: HistorySource
  selection?: Selection
  options?: Partial<Omit<TransferOptions, 'windowBytes'>>
  agent?: string
}

/**
 * The frame stream a SenderMachine emits for a receiver that holds nothing, with no receiver: a synthetic
 * one asks for `selection` in its Hello, answers the manifest with an empty Resume, and never limits the
 * window. Frames come one at a time, so a history of any size streams in constant memory (media chunks
 * reference at most `chunkBytes` of one file).
 *
 * Yields: the sender's Hello, Manifest..., MessageBatch/MessageFragment..., MediaChunk..., Done.
 */
export class FileSender {
  readonly machine: SenderMachine
  private readonly selection: Selection

  constructor (init: FileSenderInit) {
    this.machine = new SenderMachine({
      source: init.source,
      agent: init.agent ?? 'ferry-backup',
      options: { ...init.options, windowBytes: Number.MAX_SAFE_INTEGER },
      // No receiver hashes these bytes as they go: a damaged file would be found only by a restore.
      checkMedia: true
    })
    this.selection = init.selection ?? {}
  }

  get progress (): SenderProgress { return this.machine.progress }

  /** Media files read whole whose bytes are not their sha256 (damaged in the store): a restore leaves them out. */
  get mediaFilesDamaged (): number { return this.machine.mediaCheck?.damaged ?? 0 }

  async * frames (): AsyncGenerator<EncodedFrame> {
    const m = this.machine
    try {
      yield * m.start()
      await m.onFrame(asFrame({ hello: { version: PROTOCOL_VERSION, agent: 'ferry-backup-file', request: selectionToWire(this.selection) } }))
      let f: EncodedFrame | undefined
      while ((f = await m.next()) !== undefined) yield f // the manifest
      if (m.state !== 'resume') throw new FerryError(ErrorCode.INTERNAL, `backup: sender in state ${m.state} after its manifest`)
      await m.onFrame(asFrame({ resume: { mediaHave: new Uint8Array(0), partial: [], held: new Uint8Array(0) } }))
      while ((f = await m.next()) !== undefined) yield f
      if ((m.state as string) !== 'done-sent') throw new FerryError(ErrorCode.INTERNAL, `backup: sender stopped in state ${m.state}`)
    } finally {
      // The file is written from one snapshot of the store, held no longer than the writing.
      await m.release()
    }
  }
}
