import { logger } from '@libp2p/logger'
import { fromJson, jsonValue, type Journal } from '../journal/journal.js'
import { portFree } from './port-free.js'
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
 * The port to serve the page on for a sender resuming its pairing with `peer`, at `host`: with `given`
 * 0 or absent (any free one, or the default), the port the page had when that phone paired, while it is
 * free (a hint only: listening says so when another process took it in between). `previous` is that
 * port whether taken or not, so the caller can say the page moved; undefined when nothing is known.
 */
export async function pagePortFor (journal: Journal, o: { peer?: string, host: string, given?: number }): Promise<{ port?: number, previous?: number }> {
  if (o.peer === undefined || (o.given !== undefined && o.given !== 0)) return { port: o.given }
  const place = await load(journal)
  if (place === undefined || place.peer !== o.peer) return { port: o.given }
  return { port: await portFree('tcp', o.host, place.port) ? place.port : o.given, previous: place.port }
}

/**
 * Serves the page at `host` for an offer: resuming `peer`'s pairing, on the port it had when that phone
 * paired (pagePortFor). `movedFrom`: that port, when the page could not have it (the browser holds
 * nothing of the transfer at the new origin, so the caller says so).
 */
export async function serveKeptPage (journal: Journal, o: { peer?: string, host: string, given?: number, addrs: string[] }): Promise<{ page: PageServer, movedFrom?: number }> {
  const { port, previous } = await pagePortFor(journal, o)
  const serve = async (p: number | undefined): Promise<PageServer> => await servePage({ host: o.host, port: p, addrs: o.addrs })
  // Free a moment ago, taken since: the page goes where it would have without a port kept.
  const page = port === previous && port !== o.given ? await serve(port).catch(async () => await serve(o.given)) : await serve(port)
  return { page, movedFrom: previous !== undefined && page.port !== previous ? previous : undefined }
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
