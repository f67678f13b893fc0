// @ts-check
// The smallest store an app can give Ferry: the History port (HistorySource and HistorySink, see
// src/store/history.ts) over Maps in memory. A template for an app's own database, not a store to keep
// a history in: nothing here survives the process, so a "durable" commit only means "applied". It uses
// nothing of Node's, so it runs in a browser app as well.
// test/examples/memory-history.test.ts runs the port's conformance suite on it and moves a history
// with it between two phones.
import { comparePositions, compareStrings } from 'chat-ferry'

/**
 * @typedef {import('chat-ferry').History} History
 * @typedef {import('chat-ferry').HistoryChange} HistoryChange
 * @typedef {import('chat-ferry').Message} Message
 * @typedef {import('chat-ferry').MessagePosition} MessagePosition
 * @typedef {import('chat-ferry').ReceivedMedia} ReceivedMedia
 */

/**
 * A copy of a record without its undefined fields: an absent field stays absent when read back.
 * @template {object} T
 * @param {T} record
 * @returns {T}
 */
function copy (record) {
  return /** @type {T} */ (Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined).map(([k, v]) => [k, structuredClone(v)])))
}

/** @implements {History} */
export class MemoryHistory {
  /**
   * Names this history as a transfer's source: made once, kept for the history's life. From
   * getRandomValues, which a page served over plain HTTP has too (randomUUID needs a secure context).
   */
  historyId = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, '0')).join('')
  /** @type {Map<string, import('chat-ferry').Contact>} */
  #contacts = new Map()
  /** @type {Map<string, import('chat-ferry').Conversation>} */
  #conversations = new Map()
  /** @type {Map<string, import('chat-ferry').MediaRecord>} sha256 -> media record */
  #media = new Map()
  /** @type {Map<string, Uint8Array>} sha256 -> the file's bytes */
  #files = new Map()
  /** @type {Map<string, Map<string, Message>>} conversation id -> (message id -> message) */
  #messages = new Map()

  // ---- HistorySource: what the old phone reads ----

  async conversations () {
    return [...this.#conversations.values()].map(c => ({ conversation: copy(c), messages: this.#messages.get(c.id)?.size ?? 0 }))
  }

  async contacts () {
    return [...this.#contacts.values()].map(copy)
  }

  /** @param {string | undefined} after @param {number} limit */
  async media (after, limit) {
    // sha256s are lowercase hex, so code point order is plain string order here.
    return [...this.#media.values()]
      .filter(m => after === undefined || compareStrings(m.sha256, after) > 0)
      .sort((a, b) => compareStrings(a.sha256, b.sha256))
      .slice(0, limit)
      .map(m => ({ ...copy(m), stored: this.#files.has(m.sha256) }))
  }

  /** @param {string} conversation @param {MessagePosition | undefined} after @param {number} limit */
  async messages (conversation, after, limit) {
    // (ts, id) with ids compared by code point: comparePositions, never JavaScript's `<` on strings,
    // which compares UTF-16 units and disagrees beyond the BMP (emoji).
    return [...(this.#messages.get(conversation)?.values() ?? [])]
      .filter(m => after === undefined || comparePositions(m, after) > 0)
      .sort(comparePositions)
      .slice(0, limit)
      .map(copy)
  }

  /** @param {string} sha256 @param {number} offset @param {number} length */
  async readMedia (sha256, offset, length) {
    const bytes = this.#files.get(sha256)
    if (bytes === undefined) throw new Error(`no file for media ${sha256}`)
    return bytes.slice(offset, offset + length)
  }

  // ---- HistorySink: what the new phone writes ----

  /** @param {string} conversation @param {string[]} ids */
  async findMessages (conversation, ids) {
    const held = this.#messages.get(conversation)
    return ids.flatMap(id => { const m = held?.get(id); return m === undefined ? [] : [copy(m)] })
  }

  /** @param {HistoryChange} change */
  async commit (change) {
    // All or nothing: everything the change holds is read (copied) before anything is applied, so a
    // change that fails half-way through reading leaves the history as it was.
    const contacts = (change.contacts ?? []).map(copy)
    const conversations = (change.conversations ?? []).map(copy)
    const media = (change.media ?? []).map(copy)
    const messages = (change.messages ?? []).map(copy)
    const remove = structuredClone(change.remove ?? {})

    for (const { conversation, id } of remove.messages ?? []) this.#messages.get(conversation)?.delete(id)
    for (const id of remove.conversations ?? []) {
      this.#conversations.delete(id)
      this.#messages.delete(id)
    }
    for (const id of remove.contacts ?? []) this.#contacts.delete(id)
    for (const c of contacts) this.#contacts.set(c.id, c)
    for (const c of conversations) this.#conversations.set(c.id, c)
    for (const m of media) this.#media.set(m.sha256, m)
    for (const m of messages) {
      if (!this.#messages.has(m.conversation)) this.#messages.set(m.conversation, new Map())
      this.#messages.get(m.conversation)?.set(m.id, m)
    }
    // A media record goes with its file, unless a message still names it or this change puts it.
    if ((remove.media ?? []).length > 0) {
      /** @type {Set<string>} */
      const named = new Set()
      for (const held of this.#messages.values()) for (const m of held.values()) if (m.media !== undefined) named.add(m.media)
      for (const m of media) named.add(m.sha256)
      for (const sha256 of remove.media ?? []) {
        if (named.has(sha256)) continue
        this.#media.delete(sha256)
        this.#files.delete(sha256)
      }
    }
  }

  /** @param {ReceivedMedia} file */
  async putMedia (file) {
    // The whole file, in a buffer of its own.
    const bytes = new Uint8Array(file.size)
    if (file.bytes !== undefined) bytes.set(file.bytes)
    else {
      let at = 0
      for await (const chunk of file.stream()) {
        bytes.set(chunk, at)
        at += chunk.byteLength
      }
    }
    this.#files.set(file.sha256, bytes)
  }
}
