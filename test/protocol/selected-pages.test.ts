import { describe, expect, it } from 'vitest'
import { PAGE, selectedPages } from '../../src/protocol/manifest.js'
import { comparePositions, type Message } from '../../src/store/model.js'
import type { MessagePosition } from '../../src/store/history.js'

// A store that answers on another thread (the browser's IndexedDB) answers a page later than it is
// asked: a reader of a whole conversation asks for the next page before it works on this one, and
// asks for nothing it will not read.

const conversation = 'c1'

function history (n: number): Message[] {
  return Array.from({ length: n }, (_, i) => ({ conversation, id: `m${String(i).padStart(6, '0')}`, sender: 'u1', ts: 1000 + i, kind: 'text', text: `hello ${i}` }))
}

/** A history answering each read on a later turn of the event loop, as IndexedDB does; `fail` rejects the n-th read. */
function laterStore (all: Message[], fail?: number): { messages: (c: string, after: MessagePosition | undefined, limit: number) => Promise<Message[]>, asked: number } {
  const store = {
    asked: 0,
    messages: async (_c: string, after: MessagePosition | undefined, limit: number): Promise<Message[]> => {
      const n = ++store.asked
      await new Promise(resolve => setImmediate(resolve))
      if (n === fail) throw new Error('the store went away')
      return all.filter(m => after === undefined || comparePositions(m, after) > 0).slice(0, limit)
    }
  }
  return store
}

async function read (store: ReturnType<typeof laterStore>, readAhead: boolean, sel = {}): Promise<{ pages: Message[][], askedAtPage: number[] }> {
  const pages: Message[][] = []
  const askedAtPage: number[] = []
  for await (const page of selectedPages(store, conversation, sel, undefined, PAGE, readAhead)) {
    pages.push(page)
    askedAtPage.push(store.asked)
  }
  return { pages, askedAtPage }
}

describe('selectedPages reading ahead', () => {
  it('has the next page asked for while the reader works on this one, and nothing past the end', async () => {
    const all = history(2 * PAGE + 452)
    const ahead = laterStore(all)
    const { pages, askedAtPage } = await read(ahead, true)
    expect(pages.flat()).toEqual(all)
    expect(pages.map(p => p.length)).toEqual([PAGE, PAGE, 452])
    // Each full page arrives with the next one asked for; the short last page asks for none.
    expect(askedAtPage).toEqual([2, 3, 3])
    expect(ahead.asked).toBe(3)

    // Without it, the same pages, each asked for once the reader is done with the one before.
    const plain = laterStore(all)
    const r = await read(plain, false)
    expect(r.pages).toEqual(pages)
    expect(r.askedAtPage).toEqual([1, 2, 3])
  })

  it('reads exactly as much of a history that ends on a page boundary, or at the selection\'s end', async () => {
    const whole = history(2 * PAGE)
    const a = laterStore(whole)
    const b = laterStore(whole)
    // One read finds nothing after the second full page, with or without reading ahead.
    expect((await read(a, true)).pages.flat()).toEqual(whole)
    expect((await read(b, false)).pages.flat()).toEqual(whole)
    expect([a.asked, b.asked]).toEqual([3, 3])

    // A selection that ends inside the first page: nothing is asked for after it.
    const until = whole[100].ts
    const bounded = laterStore(whole)
    const r = await read(bounded, true, { until })
    expect(r.pages.flat()).toEqual(whole.slice(0, 100))
    expect(bounded.asked).toBe(1)
  })

  it('grows a whole conversation\'s pages to the size the store asks for, and only then', async () => {
    const all = history(20 * PAGE)
    const sizes = async (messagesPerRead: number | undefined, readAhead: boolean): Promise<number[]> => {
      const store = { ...laterStore(all), messagesPerRead }
      const asked: number[] = []
      const messages = store.messages
      store.messages = async (c, after, limit) => { asked.push(limit); return await messages(c, after, limit) }
      const got: Message[] = []
      for await (const page of selectedPages(store, conversation, {}, undefined, PAGE, readAhead)) got.push(...page)
      expect(got).toEqual(all)
      return asked
    }
    // IndexedDB's history asks for 4,096: pages double up to it.
    expect(await sizes(4 * PAGE, true)).toEqual([PAGE, 2 * PAGE, 4 * PAGE, 4 * PAGE, 4 * PAGE, 4 * PAGE, 4 * PAGE])
    // A reader of part of a conversation (a leaf) keeps to PAGE, whatever the store asks for.
    expect(new Set(await sizes(4 * PAGE, false))).toEqual(new Set([PAGE]))
    // More than 16,384 is not taken, and a size that is not one is ignored.
    expect(Math.max(...await sizes(1e9, true))).toBe(16 * PAGE)
    expect(new Set(await sizes(Number.NaN, true))).toEqual(new Set([PAGE]))
  })

  it('leaves no failure unheard when the reader stops before the page it read ahead', async () => {
    const unheard: unknown[] = []
    const listen = (err: unknown): void => { unheard.push(err) }
    process.on('unhandledRejection', listen)
    try {
      const store = laterStore(history(3 * PAGE), 2)
      for await (const page of selectedPages(store, conversation, {}, undefined, PAGE, true)) {
        expect(page).toHaveLength(PAGE)
        break
      }
      expect(store.asked).toBe(2)
      // The read ahead fails after the reader left; give the rejection time to surface if unhandled.
      await new Promise(resolve => setTimeout(resolve, 20))
    } finally {
      process.off('unhandledRejection', listen)
    }
    expect(unheard).toEqual([])

    // A reader that goes on hears the failure at the page it belongs to.
    const failing = laterStore(history(3 * PAGE), 2)
    await expect(read(failing, true)).rejects.toThrow('the store went away')
  })
})
