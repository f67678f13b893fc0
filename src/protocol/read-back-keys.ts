import type { LogItem } from '../journal/log-codec.js'
import type { MessagePosition } from '../store/history.js'
import { comparePositions, compareStrings } from '../store/model.js'
import type { ListedItem } from './plan.js'

// The keys a verification reads back, in order: those a session wrote (from the journal's log) or those
// a plan listed. A verification takes a million of them, and an await each cost more than the hashing:
// they come synchronously while a page of them lasts, a promise only when the next page must be read.

/** Keys in order, one at a time; undefined after the last. */
export interface Keys {
  next(): MessagePosition | undefined | Promise<MessagePosition | undefined>
}

/** The keys of a plan's listed messages, [from, to). */
export class ListedKeys implements Keys {
  constructor (private readonly items: ListedItem[], private i: number, private readonly to: number) {}

  next (): MessagePosition | undefined {
    return this.i < this.to ? this.items[this.i++] : undefined
  }
}

/** The keys this session wrote, conversation by conversation, in order (they were written in order). */
export class WrittenKeys {
  private readonly batches: AsyncIterator<Iterable<LogItem>>
  private items: Iterator<LogItem> = [][Symbol.iterator]()
  private current?: LogItem
  private ended = false

  constructor (batches: AsyncIterable<Iterable<LogItem>>) {
    this.batches = batches[Symbol.asyncIterator]()
  }

  /** The next logged item, undefined once the log is read; a promise only when a batch must be read. */
  head (): LogItem | undefined | Promise<LogItem | undefined> {
    if (this.current !== undefined || this.ended) return this.current
    const r = this.items.next()
    if (r.done !== true) return (this.current = r.value)
    return this.more()
  }

  advance (): void {
    this.current = undefined
  }

  private async more (): Promise<LogItem | undefined> {
    for (;;) {
      const b = await this.batches.next()
      if (b.done === true) {
        this.ended = true
        return undefined
      }
      this.items = b.value[Symbol.iterator]()
      const r = this.items.next()
      if (r.done !== true) return (this.current = r.value)
    }
  }

  /**
   * The written keys of `conversation` in (after, last] (all of them without bounds), read as they are
   * needed. Keys before the range (those of a listed leaf, verified by its list) are passed over.
   */
  of (conversation: string, after?: MessagePosition, last?: MessagePosition): Keys {
    const step = (it: LogItem | undefined): MessagePosition | undefined | Promise<MessagePosition | undefined> => {
      for (;;) {
        if (it === undefined) return undefined
        const c = compareStrings(it.conversation, conversation)
        if (c > 0) return undefined
        if (c < 0 || (after !== undefined && comparePositions(it, after) <= 0)) {
          this.advance()
          const h = this.head()
          if (h instanceof Promise) return h.then(step)
          it = h
          continue
        }
        if (last !== undefined && comparePositions(it, last) > 0) return undefined
        this.advance()
        return it
      }
    }
    return {
      next: () => {
        const h = this.head()
        return h instanceof Promise ? h.then(step) : step(h)
      }
    }
  }
}
