import { existsSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { ErrorCode, FerryError } from '../errors.js'
import { importNdjson, type ImportResult } from '../sim/import.js'
import type { Unmapped } from '../sim/importers/common.js'
import { detectFileFormat, IMPORT_FORMATS, type ImportFormat } from '../sim/importers/detect.js'
import { importTelegram } from '../sim/importers/telegram.js'
import { importWhatsApp } from '../sim/importers/whatsapp.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { EXIT_OK, optionalString, requireString, type Command } from './command.js'

const STDIN = new Set(['-', '/dev/stdin'])
/** What SqliteChatStore.open creates in a store directory (the directory itself first). */
const STORE_PATHS = ['.', 'history.db', 'history.db-wal', 'history.db-shm', 'media']

const command: Command = {
  name: 'import',
  summary: 'import a canonical NDJSON history (or a Telegram / WhatsApp export) into a store',
  help: `Usage: ferry import FILE --store DIR [--base DIR] [--format F] [--me NAME]

Merges a canonical NDJSON history (see 'ferry export') into the store in DIR, creating the
store when there is none. Messages are keyed by (conversation, id): importing the same file
twice changes nothing, and chats already in the store are kept.

All or nothing: every line is checked first (JSON, fields and their types, references from
messages to conversations and media, media files against their sha256 and size). On the first
problem nothing is written, the reason is printed with its line number, and the exit code is 2.

The format is detected from the file's content: canonical NDJSON, Telegram Desktop's JSON export
(result.json, its media paths relative to it), or a WhatsApp "Export chat" .txt (Android or iOS,
attachments beside it). Whatever an export holds that the model cannot (polls, contact cards,
media left out of the export or missing...) is counted per reason and printed; its text is kept.
Standard input is always read as NDJSON.

Options:
  -s, --store DIR   the store (a directory holding history.db and media/)
  --base DIR        directory that media "path" values are relative to
                    (default: the file's directory; the current directory for stdin)
  --format F        ndjson, telegram or whatsapp instead of detecting it
  --me NAME         WhatsApp: the exporter's name in the chat (their messages become "me")
  FILE              an NDJSON file, or - (or /dev/stdin) to read standard input

Examples:
  ferry import old-phone.ndjson --store ./new-phone
  ferry export --store ./a | ferry import - --store ./b     copy a store's records
  ferry import ~/Downloads/Telegram/result.json --store ./new-phone
  ferry import "WhatsApp Chat with Alice.txt" --me Bob --store ./new-phone`,
  options: {
    store: { type: 'string', short: 's' },
    base: { type: 'string' },
    format: { type: 'string' },
    me: { type: 'string' }
  },
  allowPositionals: true,
  async run (args) {
    const dir = requireString(args, 'store', 'import')
    if (args.positionals.length !== 1) {
      throw new FerryError(ErrorCode.BAD_INPUT, `expected one FILE to import, got ${args.positionals.length}\nRun 'ferry import --help' for usage.`)
    }
    const file = args.positionals[0]
    const fromStdin = STDIN.has(file)
    const forced = optionalString(args, 'format')
    if (forced !== undefined && !IMPORT_FORMATS.includes(forced as ImportFormat)) {
      throw new FerryError(ErrorCode.BAD_INPUT, `--format must be one of ${IMPORT_FORMATS.join(', ')}, got ${JSON.stringify(forced)}`)
    }
    const format = (forced as ImportFormat | undefined) ?? (fromStdin ? 'ndjson' : await detectFileFormat(file))
    // Whatever opening the store creates is removed again should the import fail: a refused import leaves nothing.
    const created = STORE_PATHS.map(p => resolve(dir, p)).filter(p => !existsSync(p))
    const store = SqliteChatStore.open(dir, { create: true })
    let ok = false
    try {
      let r: ImportResult & { unmapped?: Unmapped }
      if (format === 'telegram') r = await importTelegram(store, file)
      else if (format === 'whatsapp') r = await importWhatsApp(store, file, { me: optionalString(args, 'me') })
      else r = await importNdjson(store, fromStdin ? process.stdin : file, { baseDir: optionalString(args, 'base') })
      ok = true
      process.stdout.write(`imported ${r.contacts} contacts, ${r.conversations} conversations, ${r.media} media records ` +
        `(${r.mediaFiles} files copied), ${r.messages} messages into ${store.dir}\n`)
      const unmapped = Object.entries(r.unmapped ?? {})
      if (format !== 'ndjson') {
        process.stdout.write(`format: ${format}; not mapped: ${unmapped.length === 0 ? 'nothing' : unmapped.map(([why, n]) => `${n} ${why}`).join(', ')}\n`)
      }
      return EXIT_OK
    } finally {
      store.close()
      if (!ok) for (const p of created) rmSync(p, { recursive: true, force: true })
    }
  }
}

export default command
