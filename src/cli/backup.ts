import { existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { EXIT_OK, exitOnSignal, onStop, optionalString, QUESTION_SIGNALS, requireString, type Command } from './command.js'
import { SELECTION_HELP, SELECTION_OPTIONS, selectionFromArgs } from './selection-flags.js'
import { formatBytes } from '../format-bytes.js'
import { jsonProgress, terminalProgress, type ProgressView } from './progress.js'
import { jsonEvent, sayStopped, sayWarning } from './json-lines.js'
import { isTerminal, promptPassword, readPasswordFile } from './password.js'
import { lockPartial, refuseToReplace, writeBackup } from '../backup/backup.js'
import type { PartialLock } from '../backup/partial-lock.js'
import { refuseDirectory, refuseInsideStore } from '../durable-fs.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { NodeJournal } from '../journal/node-journal.js'
import { TransferLog } from '../journal/transfer-log.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { holdWhileBackingUp } from './test-hold.js'
import { fsError, makeFolders } from '../fs-errors.js'
import { refuseEmptySelection, refuseUnknownChats } from '../protocol/selection-check.js'
import { refuseUnmovableHistory } from '../protocol/manifest-entries.js'

/** What a backup without a password is, said when one is written (its checks are public: anyone can redo them). */
export const NO_PASSWORD_NOTE = 'Warning: this backup has no password. It is NOT confidential: anyone who gets the file can read ' +
  'every chat in it. Its checks catch accidental damage only (a flipped byte, a copy cut short or mixed up with another): ' +
  'anyone can write or alter such a file so that it passes them. Use a password unless the file never leaves your hands.'

/** Characters below which a password is said to be weak: a stolen file can be tried offline, at leisure. */
const SHORT_PASSWORD = 12

/**
 * Said when the password is short. scrypt makes each guess cost, but whoever holds the file guesses on
 * their own machines, for as long as they like: a short password falls to that whatever its cost.
 */
export function shortPasswordNote (password: string | undefined): string | undefined {
  if (password === undefined || [...password].length >= SHORT_PASSWORD) return undefined
  return `warning: the password is shorter than ${SHORT_PASSWORD} characters. Whoever gets the backup file can try passwords ` +
    'on their own computers for as long as they like; a phrase of four or more words is far harder to guess. ' +
    'The backup is written; make it again with a longer password if the file may leave your hands.'
}

async function backupPassword (file: string | undefined, none: boolean): Promise<string | undefined> {
  if (file !== undefined && none) throw new FerryError(ErrorCode.BAD_INPUT, '--password-file and --no-password exclude each other')
  if (none) return undefined
  if (file !== undefined) return readPasswordFile(file)
  if (!isTerminal()) {
    throw new FerryError(ErrorCode.BAD_INPUT, 'a backup needs a password: pass --password-file FILE, run on a terminal to be asked, or choose --no-password (readable and forgeable by anyone who gets the file)')
  }
  for (;;) {
    const a = await promptPassword('Password for the backup: ')
    if (a === '') { process.stderr.write('The password is empty; use --no-password for a backup without one.\n'); continue }
    const b = await promptPassword('Same password again: ')
    if (a === b) return a
    process.stderr.write('The two passwords differ; again.\n')
  }
}

/**
 * Said when the chats name media files the store does not hold (lost from its folder, or never brought
 * in): the backup is written, but a person would otherwise take it for the whole history.
 */
export function missingMediaNote (files: number): string | undefined {
  if (files === 0) return undefined
  const [what, are, them] = files === 1 ? ['1 media file', 'is', 'it'] : [`${files} media files`, 'are', 'them']
  return `warning: ${what} the chats name ${are} not in this store (lost from its folder, or never brought in), so the backup ` +
    `holds ${files === 1 ? 'its message' : 'their messages'} without ${them}: restored, the chats show ${them} as missing.`
}

/**
 * Said when media files were cut short in the store, or deleted by the app while the backup read them:
 * the backup is written, and a restore leaves them out, as a person is told here rather than then.
 */
export function shortMediaNote (files: number): string | undefined {
  if (files === 0) return undefined
  const [what, were, them] = files === 1 ? ['1 media file', 'was', 'it'] : [`${files} media files`, 'were', 'them']
  return `warning: ${what} in this store ${were} cut short, or deleted while the backup ran, so the backup holds ` +
    `${files === 1 ? 'its message' : 'their messages'} without ${them}: restored, the chats show ${them} as missing.`
}

/**
 * Said when media files in the store are not their sha256 (damaged at their size: a flipped byte): the
 * backup is written, and a restore leaves them out, as a person is told here rather than then.
 */
export function damagedMediaNote (files: number): string | undefined {
  if (files === 0) return undefined
  const [what, is, its, them, copies] = files === 1
    ? ['1 media file', 'is', 'its', 'it', 'a good copy']
    : [`${files} media files`, 'are', 'their', 'them', 'good copies']
  return `warning: ${what} in this store ${is} damaged (${its} bytes are not what ${its} sha256 names), ` +
    `so a restore of this backup leaves ${them} out and keeps everything else: the chats show ${them} as missing. ` +
    `The damage is on this phone; a backup from a phone that holds ${copies} brings ${them}.`
}

/**
 * Said when the store is still being filled by a transfer (running, or stopped part-way): the backup
 * holds what had arrived, unchecked, and its media a transfer had yet to bring are counted as missing,
 * which alone would read as files lost from the phone.
 */
export const UNVERIFIED_NOTE = 'warning: an incoming transfer into this store is not verified yet (still running, or stopped ' +
  'part-way), so the backup holds only what had arrived, unchecked: back up once it is verified (ferry inspect shows it).'

/**
 * Unverified transfers into the store at `dir`, as its journal says when the backup starts (0 when it
 * has none, or it cannot be read: the warning is only informative). A restore's are left out: what a
 * restore wrote is the person's from the moment it is written.
 */
async function unverifiedTransfers (dir: string): Promise<number> {
  let journal: NodeJournal | undefined
  try {
    journal = NodeJournal.existing(dir)
    if (journal === undefined) return 0
    return (await new TransferLog(journal).unfinished()).filter(t => t.restore !== true).length
  } catch {
    return 0
  } finally {
    await journal?.close().catch(() => {})
  }
}

/**
 * About the most room a backup of the store at `dir` takes: its media files, which go as they are, and
 * its database, which holds the messages with indexes beside them (they go compressed): a selection
 * takes less.
 */
function roughBackupBytes (dir: string, mediaBytes: number): number {
  let db = 0
  for (const f of ['history.db', 'history.db-wal']) db += statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0
  return mediaBytes + db
}

/**
 * A backup stopped by a full disk: its partial file is gone and FILE was never touched, so an earlier
 * backup there is whole, which a person about to delete things to make room needs to know, with how
 * much room to make.
 */
function diskFull (err: FerryError, out: string, earlier: boolean, need: number): FerryError {
  const left = earlier ? `the earlier backup at ${out} stays as it was` : `nothing is left at ${out}`
  return new FerryError(err.code, `${err.message}: ${left}. The backup needs up to about ${formatBytes(need)} there; ` +
    'make room and run the same backup again', { ...err.details, neededBytes: need, path: out }, { cause: err })
}

const backup: Command = {
  name: 'backup',
  summary: 'write a phone\'s history to an encrypted backup file (offline alternative to send)',
  help: `Usage: ferry backup --store DIR --out FILE [selection] [--password-file F | --no-password] [--json]

Writes the history in DIR (or the selected part of it) to FILE, for 'ferry restore' on another phone
when the two cannot meet on a network. The file is encrypted and authenticated with a key derived from
a password (scrypt, then ChaCha20-Poly1305 in 1 MiB segments): a wrong password, a damaged byte, a file
cut short or pieced together from other files is refused on restore. The password is asked for (twice)
on a terminal, or read from the first line of --password-file; one shorter than 12 characters is
warned of, as whoever gets the file can guess at it offline. With --no-password the file is neither
confidential nor authentic: anyone who gets it can read the chats, and anyone can write or alter such a
file undetected; its checks catch accidental damage only. FILE is private to you (mode 0600), written
under FILE.partial and renamed when complete; a backup to FILE that is running is named and
refused, and a FILE.partial left by one that was killed is removed. It only reads DIR, so it may
run while another process uses it; it backs up the store as it was when it started.

Media files the chats name that DIR does not hold (lost from its folder, or never brought in) cannot
go into the backup: it is written without them, and a warning says how many (exit code 0). So do files
cut short or deleted while it runs, and files damaged in DIR (each is hashed as it is read: bytes that
are not its sha256): a restore leaves those out and keeps everything else. A store an incoming
transfer has not verified yet is backed up as it is, with a warning; one holding no message is refused.

Options:
  -s, --store DIR      the phone's store (required)
  --out FILE           the backup file to write (required; an older backup there is replaced,
                       any other file is refused; a file on disk, not standard output, since
                       'ferry restore' reads a backup at random)
${SELECTION_HELP}
  --password-file F    read the password from the first line of F (scripts)
  --no-password        no password: readable and forgeable by anyone who gets the file
  --json               print JSON events instead of lines: progress (at most twice a second, as
                       send's), one with the figures (backup), then a warning for each warning
                       (no-password, short-password, media-missing...)

Example:
  ferry backup --store ./old-phone --out ~/chats.ferrybak --chats family,work
  ferry restore --store ./new-phone --in ~/chats.ferrybak

Exit codes: 0 written, 1 failed (store or disk), 2 bad usage or bad input, 130 stopped with Ctrl-C,
143 by kill, 129 by the terminal closing (nothing written: FILE is as it was).`,
  options: {
    store: { type: 'string', short: 's' },
    out: { type: 'string' },
    ...SELECTION_OPTIONS,
    'password-file': { type: 'string' },
    'no-password': { type: 'boolean' },
    json: { type: 'boolean' }
  },
  async run (args) {
    const storeDir = requireString(args, 'store', 'backup')
    const out = requireString(args, 'out', 'backup')
    // '-' means standard output to a person; a backup cannot go there, as restore cannot read it back from a pipe.
    if (out === '-') {
      throw new FerryError(ErrorCode.BAD_INPUT, `--out - would write a file named '-': a backup cannot go to standard output, since 'ferry restore' reads it at random from a file on disk; name the file, like chats.ferrybak`)
    }
    // Before the password is asked for.
    refuseDirectory(out, '--out', 'chats.ferrybak')
    refuseInsideStore(out, '--out', storeDir, 'file')
    refuseToReplace(out, '--out')
    const selection = selectionFromArgs(args)
    const json = args.values.json === true
    // Read-only: one consistent snapshot, even while a transfer writes the store.
    const store = SqliteChatStore.open(storeDir, { readOnly: true })
    let view: ProgressView | undefined
    let lock: PartialLock | undefined
    try {
      // Before the password is asked for: a selection that names a chat not held, or holds no message.
      await refuseUnknownChats(store, selection.conversations, 'this phone')
      await refuseEmptySelection(store, selection, 'this phone', 'back up')
      await refuseUnmovableHistory(store, selection)
      // A backup of nothing passes for one of a phone, and a mistyped --store is the likeliest cause.
      if (store.stats().messages === 0) {
        throw new FerryError(ErrorCode.BAD_INPUT, `the store ${storeDir} holds no message: nothing to back up (is it the phone's store? ferry inspect shows what a store holds)`, { dir: storeDir })
      }
      const unverified = await unverifiedTransfers(storeDir)
      // Before the password too: a backup to FILE that is running is named, one stopped is cleared away.
      // (A folder still to be made holds none: the backup takes the lock once it has made it.)
      if (existsSync(dirname(resolve(out)))) lock = lockPartial(out)
      // A kill or a closed terminal at the password question (Ctrl-C there is a key, whileAsking's): the
      // lock's files go with it, as nothing else is written yet.
      const atQuestion = (signal: NodeJS.Signals): void => {
        lock?.release()
        sayStopped({ stop: () => {} }, json, `Nothing was backed up: ${out} is not written. Run the same backup again to back up.`, signal)
        process.exit(exitOnSignal(signal))
      }
      const stopListeningAtQuestion = onStop(atQuestion, QUESTION_SIGNALS)
      let password: string | undefined
      try {
        password = await backupPassword(optionalString(args, 'password-file'), args.values['no-password'] === true)
      } finally {
        stopListeningAtQuestion()
      }
      view = json ? jsonProgress() : terminalProgress('backing up')
      // As export does: a folder named for the file is made, not refused.
      try {
        makeFolders(dirname(resolve(out)))
      } catch (err) {
        throw fsError(err, `cannot create the folder of --out ${out}`, dirname(out))
      }
      const t0 = performance.now()
      // Ctrl-C, a `kill` or the terminal closed: the backup stops at its next frame and takes its partial
      // file away, so FILE stays as it was. (One killed outright leaves it, for the next backup to remove.)
      const stop = new AbortController()
      let stoppedBy: NodeJS.Signals = 'SIGINT'
      const onSignal = (signal: NodeJS.Signals): void => { stoppedBy = signal; stop.abort() }
      const stopListening = onStop(onSignal)
      const aborted = new Promise<void>(resolve => stop.signal.addEventListener('abort', () => resolve(), { once: true }))
      const hold = holdWhileBackingUp()
      // Known before the disk can fill: what a person who hits a full disk needs to hear.
      const earlier = existsSync(out)
      const need = roughBackupBytes(storeDir, store.stats().mediaBytesPresent)
      let r
      try {
        r = await writeBackup(store, out, {
          password,
          selection,
          signal: stop.signal,
          partialLock: lock,
          onProgress: async p => {
            view?.update({ messages: p.messagesSent, totalMessages: p.totalMessages, mediaBytes: p.mediaBytesSent, totalMediaBytes: p.totalMediaBytes })
            if (hold !== undefined) await Promise.race([hold(), aborted])
          }
        })
      } catch (err) {
        if (isFerryError(err, ErrorCode.STORE_FULL)) throw diskFull(err, out, earlier, need)
        if (!stop.signal.aborted || !isFerryError(err, ErrorCode.CANCELLED)) throw err
        sayStopped(view ?? { stop: () => {} }, json, `Nothing was backed up: ${out} is not written. Run the same backup again to back up.`, stoppedBy)
        return exitOnSignal(stoppedBy)
      } finally {
        stopListening()
      }
      const seconds = (performance.now() - t0) / 1000
      view?.stop()
      const p = r.progress
      if (json) {
        jsonEvent('backup', {
          file: out, fileBytes: r.fileBytes, plainBytes: r.plainBytes, messages: p.messagesSent, mediaBytes: p.mediaBytesSent,
          password: password !== undefined, kdfMs: Math.round(r.kdfMs), seconds, mbPerSec: r.fileBytes / 1e6 / seconds,
          mediaFilesMissing: r.mediaFilesMissing, mediaFilesShort: r.mediaFilesShort, mediaFilesDamaged: r.mediaFilesDamaged
        })
      } else {
        process.stderr.write(`Backed up ${p.messagesSent} messages and ${formatBytes(p.mediaBytesSent)} of media to ${out} ` +
          `(${formatBytes(r.fileBytes)} in ${seconds.toFixed(1)} s, ${(r.fileBytes / 1e6 / seconds).toFixed(1)} MB/s).\n`)
        if (password !== undefined) process.stderr.write('Encrypted with your password: without it the backup cannot be restored.\n')
      }
      // On stderr with --json too (scripts show their user stderr), and there as `warning` events.
      if (password === undefined) sayWarning(json, 'no-password', NO_PASSWORD_NOTE)
      const weak = shortPasswordNote(password)
      if (weak !== undefined) sayWarning(json, 'short-password', weak)
      const missing = missingMediaNote(r.mediaFilesMissing)
      if (missing !== undefined) sayWarning(json, 'media-missing', missing)
      const short = shortMediaNote(r.mediaFilesShort)
      if (short !== undefined) sayWarning(json, 'media-short', short)
      const damaged = damagedMediaNote(r.mediaFilesDamaged)
      if (damaged !== undefined) sayWarning(json, 'media-damaged', damaged)
      if (unverified > 0) sayWarning(json, 'transfer-unverified', UNVERIFIED_NOTE)
      return EXIT_OK
    } finally {
      view?.stop()
      lock?.release()
      store.close()
    }
  }
}

export default backup
