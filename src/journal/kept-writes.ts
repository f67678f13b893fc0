// What the person wrote into the store by their own doing while a transfer was unverified (`ferry
// import` of an export, maybe of the very chats the transfer brought): theirs from then on, so the undo
// of that transfer must leave it even where it holds exactly what the transfer wrote, which no digest
// can tell apart (TransferLog.keep). Kept by key only, and only while such a transfer exists.

/** The keys of records written, by kind. */
export class KeptWrites {
  private readonly messages = new Map<string, Set<string>>()
  readonly contacts = new Set<string>()
  readonly conversations = new Set<string>()
  readonly media = new Set<string>()

  add (written: { contacts: ReadonlyArray<{ id: string }>, conversations: ReadonlyArray<{ id: string }>, media: ReadonlyArray<{ sha256: string }>, messages: ReadonlyArray<{ conversation: string, id: string }> }): void {
    for (const c of written.contacts) this.contacts.add(c.id)
    for (const c of written.conversations) this.conversations.add(c.id)
    for (const m of written.media) this.media.add(m.sha256)
    for (const m of written.messages) {
      let ids = this.messages.get(m.conversation)
      if (ids === undefined) this.messages.set(m.conversation, ids = new Set())
      ids.add(m.id)
    }
  }

  hasMessage (conversation: string, id: string): boolean {
    return this.messages.get(conversation)?.has(id) === true
  }

  get empty (): boolean {
    return this.messages.size + this.contacts.size + this.conversations.size + this.media.size === 0
  }
}
