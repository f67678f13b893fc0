import { ErrorCode, FerryError } from '../errors.js'
import { comparePositions, type Contact, type Selection } from '../store/model.js'
import type { ferry } from '../wire/codec.js'
import { contactFromWire, conversationsFromWire, mediaFromWire } from '../wire/message-wire.js'
import type { Expected, Incoming } from './incoming.js'
import { ManifestMedia } from './manifest-media.js'
import { formerIdsOf } from './manifest.js'
import type { TransferOptions } from './options.js'
import { intersectSelections, selectionFromWire } from './selection.js'

/** What a whole manifest announces, checked. */
export interface AnnouncedTransfer {
  expected: Expected
  /** The old phone's contacts, to merge with this phone's. */
  contacts: Contact[]
  /** Files the old phone holds (its index less those it lists missing). */
  mediaFiles: number
  /** The sender's window (Manifest.window_bytes), 0 when it names none. */
  windowBytes: number
}

/**
 * The receiver's side of the manifest, sans I/O: takes its parts as they come, bounded, and once the
 * last is here, checks the transfer they announce before anything touches the store.
 */
export class ManifestIntake {
  private parts: ferry.Manifest[] = []
  private readonly media = new ManifestMedia()
  private mediaBytes = 0
  private mediaFiles = 0
  private entries = 0
  private records = 0
  private bytes = 0

  constructor (private readonly limits: Pick<TransferOptions, 'maxManifestBytes' | 'maxManifestEntries' | 'maxManifestRecords'>) {}

  /**
   * Takes a part of `size` encoded bytes; true when it is the last. Throws TOO_LARGE past the bounds, and
   * MALFORMED_FRAME for a media entry out of sha256 order.
   */
  add (part: ferry.Manifest, size: number): boolean {
    // The manifest is held whole until its last part: bound its bytes, not only its entries.
    this.bytes += size
    if (this.bytes > this.limits.maxManifestBytes) {
      throw new FerryError(ErrorCode.TOO_LARGE, `manifest exceeds ${this.limits.maxManifestBytes} bytes`)
    }
    let records = part.contacts.length
    for (const c of part.conversations) {
      const members = c.members?.length ?? 0
      // A continuation exists to carry members: one without any would count as nothing, and a flood of
      // them would pass every bound but the bytes.
      if (c.continued === true && members === 0) throw new FerryError(ErrorCode.MALFORMED_FRAME, `an entry continuing conversation ${String(c.id)} carries no member`)
      records += (c.continued === true ? 0 : 1) + members
    }
    this.records += records
    this.entries += records + part.media.length
    if (this.entries > this.limits.maxManifestEntries) {
      throw new FerryError(ErrorCode.TOO_LARGE, `manifest exceeds ${this.limits.maxManifestEntries} entries`)
    }
    if (this.records > this.limits.maxManifestRecords) {
      throw new FerryError(ErrorCode.TOO_LARGE, `manifest exceeds ${this.limits.maxManifestRecords} contacts, chats and chat members`)
    }
    // Media entries go straight into the compact list (checked, in order): a 138k-file manifest is never
    // held as decoded objects.
    for (const w of part.media) {
      const m = mediaFromWire(w)
      this.media.push(m)
      if (!m.missing) {
        this.mediaBytes += m.size
        this.mediaFiles++
      }
    }
    part.media = []
    this.parts.push(part)
    return part.more !== true
  }

  /**
   * The transfer the whole manifest announces. Throws MALFORMED_FRAME, SELECTION (wider than `request`,
   * what this phone asked for) or COUNT_MISMATCH for a manifest that does not hold together.
   */
  announced (request: Selection): AnnouncedTransfer {
    const head = this.parts[0]
    const transferId = head.transferId
    if (!(transferId instanceof Uint8Array) || transferId.byteLength !== 16) {
      throw new FerryError(ErrorCode.MALFORMED_FRAME, 'manifest transfer id must be 16 bytes')
    }
    if (!head.sourceId) throw new FerryError(ErrorCode.MALFORMED_FRAME, 'manifest has no source id')
    const selection = selectionFromWire(head.selection)
    // The sender may narrow what was asked for, never widen it.
    const allowed = intersectSelections(request, selection)
    if (JSON.stringify(allowed) !== JSON.stringify(selection)) {
      throw new FerryError(ErrorCode.SELECTION, 'the sender\'s selection is wider than what this phone asked for')
    }
    const conversations: Incoming[] = []
    const byId = new Map<string, Incoming>()
    let total = 0
    for (const { conversation, messageCount } of conversationsFromWire(this.parts.flatMap(p => p.conversations))) {
      if (byId.has(conversation.id)) throw new FerryError(ErrorCode.MALFORMED_FRAME, `conversation ${conversation.id} appears twice in the manifest`)
      const prev = conversations[conversations.length - 1]
      if (prev !== undefined && comparePositions({ ts: 0, id: prev.conversation.id }, { ts: 0, id: conversation.id }) >= 0) {
        throw new FerryError(ErrorCode.MALFORMED_FRAME, 'the manifest\'s conversations are out of order')
      }
      if (selection.conversations !== undefined && !selection.conversations.includes(conversation.id)) {
        throw new FerryError(ErrorCode.SELECTION, `manifest offers conversation ${conversation.id} outside the selection`)
      }
      const inc: Incoming = { index: conversations.length, conversation, declared: messageCount, held: false, occupied: false, planDone: false, listed: [], expect: messageCount, arrived: 0, entry: 0 }
      conversations.push(inc)
      byId.set(conversation.id, inc)
      total += messageCount
    }
    if (Number(head.totalMessages) !== total) {
      throw new FerryError(ErrorCode.COUNT_MISMATCH, `manifest declares ${Number(head.totalMessages)} messages but its conversations add up to ${total}`)
    }
    const contacts = this.parts.flatMap(p => p.contacts.map(contactFromWire))
    this.parts = []
    const window = Number(head.windowBytes ?? 0)
    return {
      expected: {
        transferId, sourceId: head.sourceId, formerSourceIds: formerIdsOf({ historyId: head.sourceId, formerIds: head.formerSourceIds ?? [] }), selection, conversations, byId, media: this.media, totalMessages: total,
        totalMediaBytes: this.mediaBytes, plansBases: head.plansBases === true
      },
      contacts,
      mediaFiles: this.mediaFiles,
      windowBytes: Number.isSafeInteger(window) && window > 0 ? window : 0
    }
  }
}
