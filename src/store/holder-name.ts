import { basename } from 'node:path'

// What this process calls itself when it holds a store's lock, so another process refused by that lock
// can say who has the store ("in use by process 123 (ferry receive)"). Its own module, free of SQLite,
// so the CLI can name itself before it knows whether a command will open a store.

let name = process.argv[1] === undefined ? 'node' : `node ${basename(process.argv[1])}`

/** Names this process for the stores it locks from now on (the CLI: `ferry <command>`). */
export function setStoreHolderName (holder: string): void {
  name = holder
}

export function storeHolderName (): string {
  return name
}
