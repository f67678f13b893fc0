import { logger } from '@libp2p/logger'

// The old phone's addresses as a page it serves holds them (src/net/page-server.ts writes them in, with
// /p2p/). An old phone started again serves them anew, perhaps on another transport port: the page it
// serves now says where it listens now.

const log = logger('ferry:web')

/** The page server answers from memory: on a LAN it answers at once or not at all. */
const FETCH_MS = 5_000

/** The old phone's addresses written into a page's HTML; none in a page `ferry web` serves. */
export function senderAddrsIn (doc: ParentNode): string[] {
  return Array.from(doc.querySelectorAll('meta[name="ferry-sender"]'), m => m.getAttribute('content') ?? '').filter(a => a !== '')
}

/**
 * Where the old phone that served this page listens now: the addresses in the page it serves at this
 * page's own address, fetched again. None when nothing answers there (it is stopped, or serves on
 * another port now).
 */
export async function senderAddrsNow (signal?: AbortSignal): Promise<string[]> {
  try {
    const bound = AbortSignal.timeout(FETCH_MS)
    const res = await fetch(new URL('/', location.href), { cache: 'no-store', signal: signal !== undefined ? AbortSignal.any([signal, bound]) : bound })
    if (!res.ok) return []
    return senderAddrsIn(new DOMParser().parseFromString(await res.text(), 'text/html'))
  } catch (err) {
    log('the old phone does not serve its page now: %s', (err as Error)?.message)
    return []
  }
}
