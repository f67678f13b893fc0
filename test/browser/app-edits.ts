// Bundled by browser-phone.test.ts and run inside the browser phone's page: what an app that embeds the
// page's store does with the history it received (recall a message, edit one, rename a chat), through
// IdbHistoryStore on the page's own database, as the app would between two transfers.
import type { HistoryChange } from '../../src/store/history.js'
import type { Message } from '../../src/store/model.js'
import { IdbHistoryStore } from '../../src/web/idb-history.js'
import { openFerryDb } from '../../src/web/idb.js'

/** The database the page keeps its history in (src/web/main.ts). */
const DB_NAME = 'ferry'

async function withStore<T> (fn: (store: IdbHistoryStore) => Promise<T>): Promise<T> {
  const db = await openFerryDb(DB_NAME)
  try {
    return await fn(await IdbHistoryStore.open(db))
  } finally {
    db.close()
  }
}

export const appEdits = {
  /** Applies the change and returns once it is written. */
  async commit (change: HistoryChange): Promise<void> {
    await withStore(async store => {
      await store.commit(change)
      await store.flushWrites()
    })
  },

  async find (conversation: string, ids: string[]): Promise<Message[]> {
    return await withStore(async store => await store.findMessages(conversation, ids))
  }
}

declare global {
  interface Window { appEdits?: typeof appEdits }
}

window.appEdits = appEdits
