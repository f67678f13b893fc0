import { chunksFrom } from './idb-chunks.js'
import { decodePage, type Page } from './idb-pages.js'
import { req } from './idb.js'

// HistoryChange.remove.media in IndexedDB: an undone transfer's media records go, each with its file
// (the `files` record and the chunks it owns), in the commit's own transaction, so neither a record
// without its file nor a file without its record is ever left.

/** Pages read per request while looking for messages that refer to the media. */
const SCAN_BATCH = 64

/**
 * Inside a commit's transaction (scope: media, files, chunks, pages), once its messages are written:
 * drops the records and files of `shas` that no stored message refers to and `putting` does not hold.
 * Nothing indexes messages by media (an index would cost every message written), so every page is read
 * once for the whole list: an undo, not a transfer, pays for it.
 */
export async function dropMedia (tx: IDBTransaction, shas: string[], putting: Set<string>): Promise<void> {
  const candidates = new Set(shas.filter(s => !putting.has(s)))
  if (candidates.size === 0) return
  const pages = tx.objectStore('pages')
  for (let after: IDBValidKey | undefined; candidates.size > 0;) {
    const range = after === undefined ? undefined : IDBKeyRange.lowerBound(after, true)
    const [keys, batch] = await Promise.all([req(pages.getAllKeys(range, SCAN_BATCH)), req(pages.getAll(range, SCAN_BATCH)) as Promise<Page[]>])
    for (const page of batch) {
      for (const m of decodePage(page)) if (m.media !== undefined) candidates.delete(m.media)
    }
    if (keys.length < SCAN_BATCH) break
    after = keys[keys.length - 1]
  }
  const media = tx.objectStore('media')
  const files = tx.objectStore('files')
  const owners = await Promise.all([...candidates].map(async sha => await req(files.get(sha)) as { owner: string } | undefined))
  let i = 0
  for (const sha of candidates) {
    const file = owners[i++]
    media.delete(sha)
    if (file === undefined) continue
    tx.objectStore('chunks').delete(chunksFrom(file.owner))
    files.delete(sha)
  }
}

/**
 * Inside a transaction (scope: media, files, chunks): drops the files of `shas` that have no record, each
 * with the chunks it owns. For files that landed after their records were removed (IdbHistoryStore.commit).
 */
export async function dropUnnamedFiles (tx: IDBTransaction, shas: string[]): Promise<void> {
  const media = tx.objectStore('media')
  const files = tx.objectStore('files')
  const found = await Promise.all(shas.map(async sha => ({
    sha,
    named: await req(media.getKey(sha)) !== undefined,
    file: await req(files.get(sha)) as { owner: string } | undefined
  })))
  for (const { sha, named, file } of found) {
    if (named || file === undefined) continue
    tx.objectStore('chunks').delete(chunksFrom(file.owner))
    files.delete(sha)
  }
}
