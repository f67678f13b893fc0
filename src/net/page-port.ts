import { logger } from '@libp2p/logger'
import { fromJson, jsonValue, type Journal } from '../journal/journal.js'
import { servePage, type PageServer } from './page-server.js'

// Where `ferry send --web` served the page when the new phone paired with it. A browser keeps what it
// received, and the pairing it resumes by, in storage that belongs to the page's origin: this phone's
// address and the page's port. A sender started again to resume serves the page on that port, or the
// browser opening it finds an empty origin and the transfer starts from nothing.

const log = logger('ferry:page-port')

const KEY = 'web-page/paired'

interface PagePlace {
  /** The phone that paired while the page was served here (its peer id). */
  peer: string
  host: string
  port: number
}

/** Notes that `peer` paired while the page was served at host:port. */
export async function rememberPagePort (journal: Journal, place: PagePlace): Promise<void> {
  try {
    await journal.write([{ key: KEY, value: jsonValue(place) }])
  } catch (err) {
    // The transfer goes on; only a page served elsewhere after a restart would start it from nothing.
    log.error('cannot note the port the browser phone is served on: %s', (err as Error)?.message)
  }
}

/**
 * The port the page had when `peer` paired with it, for a sender resuming that pairing at `host`, with
 * `given` 0 or absent (any free one, or the default); undefined when nothing is kept for that phone, or
 * a port was given. Whether it is free is for the bind to say (servePage's keptPort).
 */
export async function keptPagePort (journal: Journal, o: { peer?: string, given?: number }): Promise<number | undefined> {
  if (o.peer === undefined || (o.given !== undefined && o.given !== 0)) return undefined
  const place = await load(journal)
  return place === undefined || place.peer !== o.peer ? undefined : place.port
}

/**
 * Serves the page at `host` for an offer: resuming `peer`'s pairing, on the port it had when that phone
 * paired (keptPagePort) where it can still be bound, and where it cannot (another process took it) as
 * it would have without a port kept. `movedFrom`: that port, when the page could not have it (the
 * browser holds nothing of the transfer at the new origin, so the caller says so).
 */
export async function serveKeptPage (journal: Journal, o: { peer?: string, host: string, given?: number, addrs: string[] }): Promise<{ page: PageServer, movedFrom?: number }> {
  const kept = await keptPagePort(journal, o)
  const page = await servePage({ host: o.host, port: o.given, keptPort: kept, addrs: o.addrs })
  return { page, movedFrom: kept !== undefined && page.port !== kept ? kept : undefined }
}

async function load (journal: Journal): Promise<PagePlace | undefined> {
  try {
    const p = fromJson<PagePlace>(await journal.get(KEY))
    const ok = typeof p === 'object' && p !== null && typeof p.peer === 'string' && typeof p.host === 'string' &&
      Number.isSafeInteger(p.port) && p.port > 0 && p.port <= 65535
    return ok ? p : undefined
  } catch {
    // A damaged note only loses the port: the page is served as if none were kept.
    return undefined
  }
}
