import type { Conversation, Selection } from '../store/model.js'
import type { MessagePosition } from '../store/history.js'
import type { LeafBase } from '../journal/leaf-bases.js'
import type { ManifestMedia } from './manifest-media.js'
import type { ChatReceived } from './verification.js'
import type { HeldUpTo } from './message-base.js'

// What the receiver takes in: the transfer its manifest announced, and each conversation as it comes in.
// A module of its own, so that the parts of the receiver that read and advance these need not import
// the machine (receiver.ts), which imports them.

/** The transfer the manifest announced. */
export interface Expected {
  transferId: Uint8Array
  sourceId: string
  /** The histories the sender continues (Manifest.former_source_ids), newest first; empty for most. */
  formerSourceIds: string[]
  selection: Selection
  /** In manifest order (conversation id order). */
  conversations: Incoming[]
  byId: Map<string, Incoming>
  /** In sha256 order; indexOf finds a message's media. */
  media: ManifestMedia
  totalMessages: number
  totalMediaBytes: number
  /** Whether the sender plans against a base (Manifest.plans_bases). */
  plansBases: boolean
}

/** One conversation of the manifest, as this session receives it. */
export interface Incoming extends ChatReceived {
  index: number
  /** This phone held some of its messages at all: what arrives is first looked up, to keep what it replaces. */
  occupied: boolean
  /** The sender asked for `mine` (its root differed from ours). */
  leavesSent?: boolean
  planDone: boolean
  /** Messages the plan's parts so far cover (reconciliation.ts bounds them by `declared` as they come). */
  plannedMessages?: number
  wanted?: Uint8Array
  /** Messages to arrive in this session, once known. */
  expect: number
  arrived: number
  /** Where the data of this conversation stands: the last message, and the plan entry it fell in. */
  last?: MessagePosition
  entry: number
  /** The base this phone offers the sender (leaf-bases.ts), when it does. */
  base?: LeafBase
  /**
   * Made only once the plan shows the old phone has something new of it: this phone's owner deleted
   * the chat, and it is not made again for leaves that stay deleted.
   */
  deferred?: Conversation
  /** A deferred chat with something to come: its owner deleted it, whether a message makes it again or not. */
  deletedHere?: boolean
  /**
   * Of a deferred chat whose plan keeps part of the base: which of the old phone's messages that no base
   * holds lay outside what was carried, and went with the chat when its owner deleted it.
   */
  heldUpTo?: HeldUpTo
  /** Messages of its kept leaves this phone no longer holds: its owner deleted them, and they stay so. */
  messagesLeftDeleted?: number
  /** Its owner deleted the chat, and no leaf of it is new: it is not made again. */
  chatLeftDeleted?: boolean
}
