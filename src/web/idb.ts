// Minimal promise wrappers over IndexedDB: enough for the browser phone, no library.

export const STORES = ['meta', 'contacts', 'conversations', 'media', 'messages', 'transfers', 'files', 'chunks'] as const
export type StoreName = typeof STORES[number]

const DB_VERSION = 1

/** Opens (creating on first use) the phone's database. */
export async function openDb (name: string): Promise<IDBDatabase> {
  return await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(name, DB_VERSION)
    req.onupgradeneeded = () => {
      const db = req.result
      // Keys: out-of-line everywhere, so records stay plain model objects.
      for (const s of STORES) if (!db.objectStoreNames.contains(s)) db.createObjectStore(s)
    }
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error ?? new Error(`cannot open IndexedDB ${name}`))
    req.onblocked = () => reject(new Error(`IndexedDB ${name} is held open by another tab`))
  })
}

export async function request<T> (req: IDBRequest<T>): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'))
  })
}

/** Resolves when the transaction commits, rejects when it aborts (quota, a failed request, a closed db). */
export async function done (tx: IDBTransaction): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
    tx.onerror = () => {} // reported through onabort
  })
}

/** Every [key, value] of an object store, in key order. */
export async function entries<T> (db: IDBDatabase, store: StoreName, range?: IDBKeyRange): Promise<Array<[IDBValidKey, T]>> {
  const tx = db.transaction(store, 'readonly')
  const os = tx.objectStore(store)
  const [keys, values] = await Promise.all([request(os.getAllKeys(range)), request(os.getAll(range))])
  return keys.map((k, i) => [k, values[i] as T])
}

export async function deleteDb (name: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name)
    req.onsuccess = () => resolve()
    req.onerror = () => reject(req.error ?? new Error(`cannot delete IndexedDB ${name}`))
    req.onblocked = () => resolve()
  })
}
