import { existsSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { ErrorCode, FerryError } from '../errors.js'
import { KeptWrites } from '../journal/kept-writes.js'
import { NodeJournal } from '../journal/node-journal.js'
import { TransferLog } from '../journal/transfer-log.js'
import { importNdjson, type ImportResult, type WrittenRecords } from '../sim/import.js'
import type { ForeignImportResult } from '../sim/importers/common.js'
import { DATE_ORDERS, type DateOrder } from '../sim/importers/date-order.js'
import { IMPORT_FORMATS, openExport, openStdin, STDIN_LABEL, type ImportFormat, type OpenedExport } from '../sim/importers/detect.js'
import { importTelegram } from '../sim/importers/telegram.js'
import { checkZone, machineZone } from '../sim/importers/wall-clock.js'
import { importWhatsApp } from '../sim/importers/whatsapp.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { HOLDER_FILE, LOCK_FILE } from '../store/store-lock.js'
import { EXIT_OK, exitOnSignal, onStop, optionalString, requireString, type Command } from './command.js'
import { jsonEvent, sayStop, sayWarning } from './json-lines.js'
import { standardInput, TERMINAL_PROMPT } from './standard-input.js'

const STDIN = new Set(['-', '/dev/stdin'])
/** What SqliteChatStore.open creates in a store directory (the directory itself first). */
const STORE_PATHS = ['.', 'history.db', 'history.db-wal', 'history.db-shm', 'media', LOCK_FILE, HOLDER_FILE]

const command: Command = {
  name: 'import',
  summary: 'import a canonical NDJSON history, a Telegram export or a WhatsApp chat export into a store',
  help: `Usage: ferry import PATH --store DIR [--format F] [--me NAME] [--title T]
                    [--date-order dmy|mdy|ymd] [--tz ZONE] [--base DIR] [--json]

Merges a history into the store in DIR, creating the store when there is none. PATH is
  - a canonical NDJSON file (see 'ferry export');
  - a Telegram Desktop export ("Machine-readable JSON"): its folder, its result.json, or a .zip
    of it, with the photos, files and voice messages it holds;
  - a WhatsApp "Export chat": the .zip it makes ("attach media"), the unpacked folder, or the
    .txt alone (WhatsApp Chat with X.txt, _chat.txt), Android or iOS, any language and era,
    in UTF-8 or in UTF-16 (as some phones write it);
  - - for standard input, a pipe, <(command) or a FIFO, carrying one such file (not a .zip: a zip
    is read from its end). NDJSON streams through; a Telegram or WhatsApp chat is held in memory
    whole (up to 512 MiB), as from a file, without the media a pipe cannot carry. A file given
    to standard input (- < export.zip) is read as its path is, a zip included; on a terminal,
    ferry import - says how to end what you paste (Ctrl-D).
The format is decided by the content; archives are read in place, their media streamed into
the store by content (sha256), so an archive of any size needs no room to unpack.

Messages are keyed by (conversation, id): importing the same export twice changes nothing (it
says how many of the export's messages are new to the store), a later export of the same chat
adds what is new in it and its edits and deletions (said, and counted in --json), an older one undoes no edit, recall, member or name, and chats already in
the store are kept. All or nothing: everything is checked first, and on a problem nothing is
written (no record, no media file), the reason is printed and the exit code is 2. An export that
yields no message is refused the same way. One exception: an NDJSON media file whose size or
sha256 is not its record's (damaged since the export) is left out, said and counted
(mediaFilesDamaged in --json), and the rest imported: the chats show it as missing. Stopped with
Ctrl-C (exit 130), an import leaves nothing either; killed outright, the media files it
copied are removed by the next command that writes the store. What an import writes is the person's: a
transfer left unverified in DIR, taken back later, leaves it as imported.

What an export holds that Ferry keeps in a simpler form (polls and games as text, media left
out of the export, formatting...) or drops is counted per kind and printed after the import.
WhatsApp writes dates in the phone's order (31/12/23 or 12/31/23) and times on its clock,
without a zone: the order is decided from the whole file's dates or, where they cannot tell,
from the language it is written in (a warning says when it stays a guess), and times are read
in this machine's time zone unless --tz names another.

Options:
  -s, --store DIR       the store (a directory holding history.db and media/)
  --format F            ndjson, telegram or whatsapp instead of detecting it
  --me NAME             WhatsApp: the exporter's name in the chat (their messages become "me")
  --title T             WhatsApp: the chat's title (default: from the file or archive name)
  --date-order ORDER    WhatsApp: dmy, mdy or ymd: the order of day, month and year in its dates
  --tz ZONE             the IANA time zone of the times WhatsApp and old Telegram exports wrote
                        (default: this machine's, now ${machineZone()}); e.g. Europe/Rome
  --base DIR            NDJSON: directory that media "path" values are relative to
                        (default: the file's directory; the current directory for - or a pipe)
  --json                print JSON events instead of lines: one with the figures (imported), and a
                        warning when media files were damaged (media-damaged)

Exit codes: 0 imported (damaged media files left out are said), 1 the store failed (disk
full...), 2 bad usage or an export Ferry cannot read (nothing written), 130 stopped with Ctrl-C, 143 by
kill, 129 by the terminal closing (nothing written).

Examples:
  ferry import old-phone.ndjson --store ./new-phone
  ferry export --store ./a | ferry import - --store ./b     copy a store's records
  ssh laptop cat export/result.json | ferry import - --store ./new-phone
  ferry import ~/Downloads/Telegram\\ Desktop/ChatExport_2024-01-01 --store ./new-phone
  ferry import "WhatsApp Chat - Alice.zip" --me Bob --tz Europe/Rome --store ./new-phone
  ferry import "WhatsApp Chat with Alice.txt" --date-order mdy --store ./new-phone`,
  options: {
    store: { type: 'string', short: 's' },
    base: { type: 'string' },
    format: { type: 'string' },
    me: { type: 'string' },
    title: { type: 'string' },
    'date-order': { type: 'string' },
    tz: { type: 'string' },
    json: { type: 'boolean' }
  },
  allowPositionals: true,
  async run (args) {
    const dir = requireString(args, 'store', 'import')
    const json = args.values.json === true
    if (args.positionals.length !== 1) {
      throw new FerryError(ErrorCode.BAD_INPUT, `expected one PATH to import, got ${args.positionals.length}\nRun 'ferry import --help' for usage.`)
    }
    const path = args.positionals[0]
    const fromStdin = STDIN.has(path)
    const forced = optionalString(args, 'format')
    if (forced !== undefined && !IMPORT_FORMATS.includes(forced as ImportFormat)) {
      throw new FerryError(ErrorCode.BAD_INPUT, `--format must be one of ${IMPORT_FORMATS.join(', ')}, got ${JSON.stringify(forced)}`)
    }
    const dateOrder = optionalString(args, 'date-order')
    if (dateOrder !== undefined && !DATE_ORDERS.includes(dateOrder as DateOrder)) {
      throw new FerryError(ErrorCode.BAD_INPUT, `--date-order must be one of ${DATE_ORDERS.join(', ')}, got ${JSON.stringify(dateOrder)}`)
    }
    const tz = optionalString(args, 'tz')
    const timeZone = tz === undefined ? undefined : checkZone(tz)
    // Whatever opening the store creates is removed again should the import fail: a refused import leaves
    // nothing. Known only once the input is open, just before the store is: a store another process makes
    // while this one waits on its input is not this import's to remove.
    let created: string[] = []
    let ok = false
    let store: SqliteChatStore | undefined
    let journal: NodeJournal | undefined
    // Told before each media file is written, so a Ctrl-C mid-file knows it too.
    const writing: string[] = []
    const onMediaWriting = (sha256: string): void => { writing.push(sha256) }
    // Ctrl-C (a `kill`, the terminal closed): the import's one transaction was never committed, so nothing of it is in the store; a store
    // this import created holds nothing else and goes too (the media copied into it with it), as a refused
    // import leaves nothing. In a store that was there, the media files it copied go: no record points at
    // them. Said, so nobody wonders what an interrupted import left. Listened for before the input is
    // opened: a terminal waiting for a paste, or a FIFO waiting for its writer, is stopped the same way.
    const onSignal = (signal: NodeJS.Signals): void => {
      if (ok) return
      // Closing rolls the import's transaction back, before its media files are weighed against the records.
      try { store?.close() } catch {}
      const madeStore = created.includes(resolve(dir))
      if (writing.length > 0 && !madeStore) removeUnrecorded(dir)
      for (const p of created) try { rmSync(p, { recursive: true, force: true }) } catch {}
      sayStop(json, `\nStopped: nothing was imported${madeStore ? ` (the new store ${dir} is removed)` : ''}. Run the same import again to import it.`, signal)
      process.exit(exitOnSignal(signal))
    }
    const stopListening = onStop(onSignal)
    let opened: OpenedExport | undefined
    try {
      opened = await openInput(path, fromStdin, forced as ImportFormat | undefined)
      created = STORE_PATHS.map(p => resolve(dir, p)).filter(p => !existsSync(p))
      store = SqliteChatStore.open(dir, { create: true })
      const held = messagesIn(store)
      // What this import writes is the person's: a transfer left unverified must not take it back when
      // it is undone, even where it holds what that transfer wrote (an export of the same chats).
      journal = NodeJournal.existing(store.dir)
      const transfers = journal === undefined ? undefined : new TransferLog(journal)
      const kept = transfers !== undefined && (await transfers.unfinished()).length > 0 ? new KeptWrites() : undefined
      const onWritten = kept === undefined ? undefined : (w: WrittenRecords): void => { kept.add(w) }
      // Recorded before the import commits: a crash after its commit must not leave what it wrote to that
      // undo. A crash between the two leaves the transfer's writes at those keys unverified, not undone.
      const beforeCommit = kept === undefined ? undefined : async (): Promise<void> => { await transfers?.keep(kept) }
      const { format, source, main } = opened
      if (format === 'ndjson') {
        const r = await importNdjson(store, opened.input ?? opened.file, {
          // A file on standard input keeps standard input's base: `ferry export > F` wrote its paths from here.
          baseDir: optionalString(args, 'base') ?? (fromStdin ? '.' : undefined),
          onMediaWriting,
          onWritten,
          beforeCommit,
          inputName: opened.input === undefined ? undefined : fromStdin ? STDIN_LABEL : path
        })
        ok = true
        sayImported(r, messagesIn(store) - held, store.dir, json)
        return EXIT_OK
      }
      if (source === undefined || main === undefined) throw new FerryError(ErrorCode.INTERNAL, `no export opened for ${path}`)
      const r: ForeignImportResult = format === 'telegram'
        ? await importTelegram(store, source, main, { timeZone, onMediaWriting, onWritten, beforeCommit })
        : await importWhatsApp(store, source, main, opened.title ?? main, {
          me: optionalString(args, 'me'), title: optionalString(args, 'title'), dateOrder: dateOrder as DateOrder | undefined, timeZone, onMediaWriting, onWritten, beforeCommit
        })
      ok = true
      sayImported(r, messagesIn(store) - held, store.dir, json, { format, file: main, in: source.label, details: r.details, unmapped: r.unmapped, warnings: r.warnings })
      if (!json) process.stdout.write(`format: ${format} (${main === source.label ? main : `${main} in ${source.label}`})${r.details.map(d => `; ${d}`).join('')}\n`)
      const unmapped = Object.entries(r.unmapped)
      if (!json) process.stdout.write(`dropped or simplified: ${unmapped.length === 0 ? 'nothing' : unmapped.map(([why, n]) => `${n} ${why}`).join(', ')}\n`)
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`)
      return EXIT_OK
    } finally {
      stopListening()
      await journal?.close()
      store?.close()
      await opened?.source?.close()
      // Cleanup is best effort: its own failure (a --store that is a file cannot have history.db removed
      // from it) must not replace the error that made the import fail.
      if (!ok) for (const p of created) try { rmSync(p, { recursive: true, force: true }) } catch {}
    }
  }
}

/**
 * Opens PATH, or standard input for `-`. A regular file on standard input (`< export.zip`) is opened by
 * its path, as it can be read at any position: a zip is read from its end, which a stream cannot give.
 * Anything else on it is read as a pipe given as PATH is: its first bytes tell the format. A terminal
 * is told first what it is waiting for, as a command that reads it says nothing until it ends.
 */
async function openInput (path: string, fromStdin: boolean, forced: ImportFormat | undefined): Promise<OpenedExport> {
  if (!fromStdin) return await openExport(path, forced)
  const input = standardInput()
  if (input.kind === 'file') return await openExport(input.path, forced)
  if (input.kind === 'terminal') process.stderr.write(TERMINAL_PROMPT)
  return await openStdin(process.stdin, forced)
}

/** Messages the store holds, counted from its index: stats() also looks at every media file on disk. */
function messagesIn (store: SqliteChatStore): number {
  let n = 0
  for (const c of store.messageCounts().values()) n += c
  return n
}

/**
 * What an import did. Messages are keyed, so an export imported again re-applies what the store already
 * holds: its count of messages is what it holds, not what it added, and saying only that reads as if
 * the messages were imported twice.
 */
function sayImported (r: ImportResult, added: number, dir: string, json: boolean, foreign?: Record<string, unknown>): void {
  if (json) {
    jsonEvent('imported', {
      contacts: r.contacts, conversations: r.conversations, media: r.media, mediaFiles: r.mediaFiles, mediaFilesDamaged: r.mediaFilesDamaged,
      messages: r.messages, messagesMadeMine: r.messagesMadeMine, messagesEdited: r.messagesEdited, messagesRecalled: r.messagesRecalled,
      newMessages: added, store: dir, ...foreign
    })
    sayDamaged(r.mediaFilesDamaged, json)
    return
  }
  sayDamaged(r.mediaFilesDamaged, json)
  // The same export imported again with --me: nothing is new, but whose messages they are changed.
  // A newer export of a chat may add nothing but change what the store held: an edit, a deletion.
  const changes = [[r.messagesMadeMine, 're-attributed to you'], [r.messagesEdited, 'edited'], [r.messagesRecalled, 'deleted']]
    .filter(([n]) => n !== 0).map(([n, what]) => `; ${n === 1 ? '1 message' : `${n} messages`} ${what}`).join('')
  if (added === 0 && r.mediaFiles === 0) {
    // Messages already there are written again as the export has them unless the store holds a newer
    // version (an edit in a re-export lands), so this says no message is new, and what did change.
    process.stdout.write(`no new messages: the ${r.messages} messages of this export were already in ${dir}${changes}\n`)
    return
  }
  const fresh = added === r.messages ? '' : ` (${added} new, ${r.messages - added} already in the store)`
  process.stdout.write(`imported ${r.contacts} contacts, ${r.conversations} conversations, ${r.media} media records ` +
    `(${r.mediaFiles} files copied), ${r.messages} messages${fresh} into ${dir}${changes}\n`)
}

/**
 * Media files of an NDJSON export left out for not being the files their records name (damaged since
 * the export, or by another tool), said on stderr beside --json's count too. The import is done (exit
 * 0): a transfer leaves such files out the same way, and the rest of the history is in.
 */
function sayDamaged (files: number, json: boolean): void {
  if (files === 0) return
  const [what, were, them] = files === 1 ? ['1 media file', 'was', 'it'] : [`${files} media files`, 'were', 'them']
  sayWarning(json, 'media-damaged', `warning: ${what} of the export ${were} damaged (not the file its record names) and ${were} not imported: ` +
    `the chats show ${them} as missing.`)
}

/**
 * Removes the media files a stopped import wrote into a store that was there before: its transaction is
 * rolled back, so none is needed unless a record the store already held names it (a file a transfer had
 * not brought yet). Opening the store for writing does it (the import listed them before writing them:
 * SqliteChatStore.settleAddedMedia), and clears the copy it was in the middle of (media-folder.ts).
 * Best effort: should another process have taken the store meanwhile, the files stay listed for
 * whichever opens it next.
 */
function removeUnrecorded (dir: string): void {
  try {
    SqliteChatStore.open(dir).close()
  } catch {}
}

export default command
