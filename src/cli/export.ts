import { createWriteStream, renameSync, rmdirSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { finished } from 'node:stream/promises'
import { exportNdjson, type ExportOptions, type ExportResult } from '../sim/export.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { EXIT_OK, exitOnSignal, onStop, optionalString, requireString, type Command } from './command.js'
import { createPrivateFile } from '../private-files.js'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { refuseDirectory, refuseInsideStore, refuseSpecialFile } from '../durable-fs.js'
import { fsError, makeFolders } from '../fs-errors.js'
import { holdAfterMediaCopy } from './test-hold.js'
import { terminalProgress, type ProgressView } from './progress.js'

const command: Command = {
  name: 'export',
  summary: 'export a store as canonical NDJSON (optionally with its media)',
  help: `Usage: ferry export --store DIR [--out FILE] [--media DIR]

Writes everything the store holds as canonical NDJSON: contacts by id, conversations by id,
media by sha256, messages by (conversation, ts, id), fields in a fixed order. Two stores with
the same content export byte-identical files, so 'cmp' or 'diff' compares phones. It only reads,
so it may run while another process (a receive) writes the store: it exports the store as it was
when it started, consistently.

Options:
  -s, --store DIR   the store to read
  -o, --out FILE    write to FILE, a file on disk (replaced only once the export is complete; a
                    pipe or a device is refused; default: stdout);
                    the folders it is in are made when missing, and taken away again (only
                    those it made) should the export fail or be stopped
  --media DIR       also copy the media files into DIR and give each media line a "path"
                    (relative to FILE's directory, or to the current directory for stdout);
                    an export that fails, or is stopped with Ctrl-C (exit 130, at once even in
                    the middle of a large video), takes away the files it copied, a partial one
                    too (and DIR, if it made it); what was in DIR before stays

On a terminal, a bar on stderr shows how far it is (messages, and media bytes with --media), and
goes once it is done.

FILE and the media copies hold the history, so they are private to you (mode 0600, a DIR Ferry
creates 0700), as the store is; what you redirect stdout into gets your umask's mode.

With --media, a file the store holds damaged (its bytes not those its record names: a bad sector, a
file cut short) is left out, said on stderr, and the export still succeeds: its media line has no
"path", as that of a file the store lacks, so an import stores its message with the media shown as
missing.

Exit codes: 0 exported (files left out are said), 1 failed (store or disk), 2 bad usage,
130 stopped with Ctrl-C, 143 by kill, 129 by the terminal closing.

Examples:
  ferry export --store ./old-phone --out backup/history.ndjson --media backup/media
  ferry export --store ./a > a.ndjson && ferry export --store ./b | cmp - a.ndjson`,
  options: {
    store: { type: 'string', short: 's' },
    out: { type: 'string', short: 'o' },
    media: { type: 'string' }
  },
  async run (args) {
    const storeDir = requireString(args, 'store', 'export')
    const out = optionalString(args, 'out')
    const mediaDir = optionalString(args, 'media')
    if (out === '') throw new FerryError(ErrorCode.BAD_INPUT, '--out wants a file name (leave it out to write to stdout)')
    if (mediaDir === '') throw new FerryError(ErrorCode.BAD_INPUT, '--media wants a folder name')
    if (out !== undefined) {
      refuseInsideStore(out, '--out', storeDir, 'file')
      refuseSpecialFile(out, '--out', 'the export is written to a file on disk, which it replaces; leave --out out to write to standard output')
    }
    if (mediaDir !== undefined) refuseInsideStore(mediaDir, '--media', storeDir, 'folder')
    // Read-only: one consistent snapshot, even while a transfer writes the store.
    const store = SqliteChatStore.open(storeDir, { readOnly: true })
    // Ctrl-C: what this export made goes, as it does when the export fails: FILE's copy in the making
    // (FILE itself is written only at the end) and the media files it copied (those that were there
    // before stay). Said, so nobody takes half the media in a folder for an export.
    // A bar on stderr while it works (copying a phone's media takes a while), unless the history itself
    // goes to that same terminal: the bar would be drawn among its lines. Off the screen once done.
    const view: ProgressView = out === undefined && process.stdout.isTTY === true
      ? { update () {}, stop () {} }
      : terminalProgress('exporting', process.stderr, { clear: true })
    const run: ExportRun = {
      written: false,
      madeFolders: [],
      media: { onMediaCopying: remove => { run.removeCopies = remove }, afterMediaCopy: holdAfterMediaCopy(), onProgress: p => { view.update(p) } }
    }
    const onSignal = (signal: NodeJS.Signals): void => {
      if (run.written) return
      view.stop()
      const removed = run.removeCopies?.() ?? 0
      if (run.tmp !== undefined) try { rmSync(run.tmp, { force: true }) } catch {}
      removeFoldersMade(run)
      process.stderr.write(`\n${stoppedLine(out, mediaDir, removed)}\n`)
      process.exit(exitOnSignal(signal))
    }
    const stopListening = onStop(onSignal)
    try {
      if (out === undefined) {
        const r = await exportNdjson(store, process.stdout, { mediaDir, ...run.media })
        view.stop()
        sayLeftOut(r)
        return EXIT_OK
      }
      const r = await exportToFile(store, out, mediaDir, run)
      view.stop()
      const leftOut = r.mediaFilesDamaged === 0 ? '' : `, ${r.mediaFilesDamaged} damaged left out`
      process.stdout.write(`exported ${r.contacts} contacts, ${r.conversations} conversations, ${r.media} media records ` +
        `(${r.mediaFiles} files copied${leftOut}), ${r.messages} messages to ${out}\n`)
      sayLeftOut(r)
      return EXIT_OK
    } finally {
      view.stop()
      stopListening()
      store.close()
    }
  }
}

/**
 * Damaged media an export with --media left out, said on stderr (also beside an export to stdout, whose
 * summary is the history itself): a written export that looks whole would be taken for one. Still a
 * finished export (exit 0), as a transfer that left damaged files out is: its every other file and
 * message is there, and imported, the chats show these files as missing.
 */
function sayLeftOut (r: ExportResult): void {
  if (r.mediaFilesDamaged === 0) return
  const [what, is, was, them] = r.mediaFilesDamaged === 1 ? ['1 media file', 'is', 'was', 'it'] : [`${r.mediaFilesDamaged} media files`, 'are', 'were', 'them']
  process.stderr.write(`warning: ${what} in the store ${is} damaged (not the file its record names) and ${was} left out of the export: ` +
    `imported, the chats show ${them} as missing.\n`)
}

/** What a stopped export says it left: FILE not written, the media it copied taken back. */
function stoppedLine (out: string | undefined, mediaDir: string | undefined, removed: number): string {
  const media = removed === 0
    ? undefined
    : `the ${removed === 1 ? 'media file' : `${removed} media files`} it copied into ${mediaDir ?? ''} ${removed === 1 ? 'is' : 'are'} removed again, what was there before is kept`
  // Standard output cannot be taken back: what went there is said to be incomplete.
  if (out === undefined) return `Stopped: the history written to standard output is incomplete${media === undefined ? '' : ` (${media})`}. Run the same export again to export it whole.`
  return `Stopped: nothing was exported (${[`${out} is not written`, media].filter(p => p !== undefined).join('; ')}). Run the same export again to export.`
}

/** What a Ctrl-C handler needs to know of an export under way. */
interface ExportRun {
  /** FILE is in place: the export is done, and a Ctrl-C has nothing to take back. */
  written: boolean
  /** FILE's copy in the making. */
  tmp?: string
  /** The folders made for FILE, innermost first: taken away with it when it is not written. */
  madeFolders: string[]
  /** Takes away the media files this export copied. */
  removeCopies?: () => number
  media: Pick<ExportOptions, 'onMediaCopying' | 'afterMediaCopy' | 'onProgress'>
}

/**
 * Writes beside the target and renames: an interrupted export never leaves a truncated file behind. The
 * file holds the whole history, so it is made as private as the store (0600), and new, never through a
 * symlink (the rename replaces a link at FILE rather than writing where it points).
 */
async function exportToFile (store: SqliteChatStore, out: string, mediaDir: string | undefined, run: ExportRun): Promise<ExportResult> {
  refuseDirectory(out, '--out', 'history.ndjson')
  const file = resolve(out)
  const tmp = `${file}.${process.pid}.tmp`
  try {
    run.madeFolders = foldersMade(makeFolders(dirname(file)), dirname(file))
  } catch (err) {
    throw fsError(err, `cannot create the folder of --out ${out}`, dirname(out))
  }
  let fd: number
  try {
    fd = createPrivateFile(tmp)
    run.tmp = tmp
  } catch (err) {
    removeFoldersMade(run)
    // Said of FILE, not of the copy in the making that a person never named.
    throw fsError(err, `cannot write the export ${file}`, file)
  }
  const stream = createWriteStream(tmp, { fd })
  try {
    return await exportNdjson(store, stream, {
      mediaDir,
      relativeTo: dirname(file),
      ...run.media,
      // A write that fails at the end (a full disk) surfaces only here: the media copied go with it.
      complete: async () => {
        stream.end()
        await finished(stream)
        // In one step with saying so: a Ctrl-C after it must not take the media of a written export.
        renameSync(tmp, file)
        run.written = true
      }
    })
  } catch (err) {
    stream.destroy()
    await rm(tmp, { force: true })
    removeFoldersMade(run)
    throw storeError(err, `writing the export ${file}`)
  }
}

/** The folders makeFolders made for `deepest`, innermost first, from the outermost one it made (`first`). */
function foldersMade (first: string | undefined, deepest: string): string[] {
  if (first === undefined) return []
  const made: string[] = []
  for (let p = deepest; ; p = dirname(p)) {
    made.push(p)
    if (p === first || dirname(p) === p) return made
  }
}

/**
 * Removes the folders this export made for FILE, once FILE is not written: an empty folder left by an
 * export reads as one that went somewhere. Only while empty (rmdir), so a folder someone put a file in
 * meanwhile stays, and never a folder that was there before: those are not in the list.
 */
function removeFoldersMade (run: ExportRun): void {
  for (const folder of run.madeFolders.splice(0)) {
    try { rmdirSync(folder) } catch { return }
  }
}

export default command
