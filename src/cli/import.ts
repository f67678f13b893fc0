import { existsSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { ErrorCode, FerryError } from '../errors.js'
import { importNdjson } from '../sim/import.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { EXIT_OK, optionalString, requireString, type Command } from './command.js'

const STDIN = new Set(['-', '/dev/stdin'])
/** What SqliteChatStore.open creates in a store directory (the directory itself first). */
const STORE_PATHS = ['.', 'history.db', 'history.db-wal', 'history.db-shm', 'media']

const command: Command = {
  name: 'import',
  summary: 'import a canonical NDJSON history into a store',
  help: `Usage: ferry import FILE --store DIR [--base DIR]

Merges a canonical NDJSON history (see 'ferry export') into the store in DIR, creating the
store when there is none. Messages are keyed by (conversation, id): importing the same file
twice changes nothing, and chats already in the store are kept.

All or nothing: every line is checked first (JSON, fields and their types, references from
messages to conversations and media, media files against their sha256 and size). On the first
problem nothing is written, the reason is printed with its line number, and the exit code is 2.

Options:
  -s, --store DIR   the store (a directory holding history.db and media/)
  --base DIR        directory that media "path" values are relative to
                    (default: the file's directory; the current directory for stdin)
  FILE              an NDJSON file, or - (or /dev/stdin) to read standard input

Examples:
  ferry import old-phone.ndjson --store ./new-phone
  ferry export --store ./a | ferry import - --store ./b     copy a store's records`,
  options: {
    store: { type: 'string', short: 's' },
    base: { type: 'string' }
  },
  allowPositionals: true,
  async run (args) {
    const dir = requireString(args, 'store', 'import')
    if (args.positionals.length !== 1) {
      throw new FerryError(ErrorCode.BAD_INPUT, `expected one FILE to import, got ${args.positionals.length}\nRun 'ferry import --help' for usage.`)
    }
    const file = args.positionals[0]
    const fromStdin = STDIN.has(file)
    // Whatever opening the store creates is removed again should the import fail: a refused import leaves nothing.
    const created = STORE_PATHS.map(p => resolve(dir, p)).filter(p => !existsSync(p))
    const store = SqliteChatStore.open(dir, { create: true })
    let ok = false
    try {
      const r = await importNdjson(store, fromStdin ? process.stdin : file, { baseDir: optionalString(args, 'base') })
      ok = true
      process.stdout.write(`imported ${r.contacts} contacts, ${r.conversations} conversations, ${r.media} media records ` +
        `(${r.mediaFiles} files copied), ${r.messages} messages into ${store.dir}\n`)
      return EXIT_OK
    } finally {
      store.close()
      if (!ok) for (const p of created) rmSync(p, { recursive: true, force: true })
    }
  }
}

export default command
