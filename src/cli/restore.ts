import { EXIT_OK, exitOnSignal, onStop, optionalString, QUESTION_SIGNALS, requireString, STOP_SIGNALS, type Command } from './command.js'
import { formatBytes } from '../format-bytes.js'
import { damagedMediaNote, jsonProgress, terminalProgress, type ProgressView } from './progress.js'
import { jsonEvent, sayStopped, sayWarning } from './json-lines.js'
import { chatSummaryLines } from './chat-summary.js'
import { isTerminal, promptPassword, readPasswordFile } from './password.js'
import { openBackup, openRestore, readBackupHeader, restoreFrom, type OpenedBackup } from '../backup/backup.js'
import { openStorage } from './phone.js'
import { StoreMade } from './store-made.js'
import { notEnoughSpace, type ReceiverMachine } from '../protocol/receiver.js'
import { freeSpaceOf } from '../store/free-space.js'
import { commandLine } from './command-line.js'
import { CHAT_IDS_HELP, chatsFromArgs, SELECTION_OPTIONS } from './selection-flags.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'

/** Said (on stderr, with --json too) before restoring a backup that has no password. */
export const NO_PASSWORD_RESTORE_NOTE = 'Warning: this backup has no password, so nothing shows who wrote it: anyone could have ' +
  'written or altered it and it would still pass its checks, which catch accidental damage only. Restore it only if you ' +
  'know it is the file you made.'

const restore: Command = {
  name: 'restore',
  summary: 'restore a history from a backup file written by \'ferry backup\'',
  help: `Usage: ferry restore --store DIR --in FILE [--password-file F] [--chats ID,...] [--json]

Restores the backup FILE into the store DIR (created when missing), merging with what DIR already
holds, and verifies at the end that the store holds exactly what the backup does. Asks for the
password on a terminal when the backup has one and --password-file is not given, again after a
wrong one (three tries in all; a password file gets one).

Restored into an empty DIR, the phone is the backed-up phone again to a new phone that phone sent
to: what was deleted or renamed there since stays so when this one sends. The backed-up phone, if
still in use, stays a phone of its own.

Safe to repeat and to interrupt: restoring the same backup twice duplicates nothing, and a restore that
stopped (a crash, a damaged or incomplete copy of the file) continues where it stopped when run again.
A damaged file is refused at the first damaged segment: everything restored before it came from the
intact part of the file and stays, also when the phone receives something else before the restore is
run again; nothing from the damaged part is used.

A backup made with --no-password is restored with a warning: anyone could have written or altered
it (its checks catch accidental damage only), so restore it only if you know where it came from.

Options:
  -s, --store DIR      the phone's store (required; created when missing)
  --in FILE            the backup file (required; a file on disk: a pipe cannot be read at random)
  --password-file F    read the password from the first line of F (scripts); a backup without a
                       password is then refused, since anyone could have written such a file
  --chats ID,...       restore only these conversations (with their contacts and media): ${CHAT_IDS_HELP}
  --json               print JSON events instead of lines: progress (at most twice a second, as
                       receive's), one with the figures (restored), and a warning for each
                       warning (no-password, media-damaged)

Example:
  ferry restore --store ./new-phone --in ~/chats.ferrybak --chats family

Exit codes: 0 restored and verified, 1 failed (store or disk), 2 bad usage or bad input (wrong
password, damaged or incomplete file, a backup from a newer Ferry), 130 stopped with Ctrl-C, 143 by
kill, 129 by the terminal closing (run it again to carry on).`,
  options: {
    store: { type: 'string', short: 's' },
    in: { type: 'string' },
    'password-file': { type: 'string' },
    chats: SELECTION_OPTIONS.chats,
    json: { type: 'boolean' }
  },
  async run (args) {
    const storeDir = requireString(args, 'store', 'restore')
    const file = requireString(args, 'in', 'restore')
    if (file === '-') {
      throw new FerryError(ErrorCode.BAD_INPUT, '--in -: a backup cannot come from standard input, since it is read at random; save it to a file on disk and name that')
    }
    const json = args.values.json === true
    const chats = chatsFromArgs(args)
    // Ctrl-C, a `kill` or the terminal closed: say how to carry on, then go at once. What is restored is
    // committed as it goes and a restore run again continues after it, so nothing is waited for.
    let view: ProgressView | undefined
    const onSignal = (signal: NodeJS.Signals): void => {
      sayStopped(view ?? { stop: () => {} }, json, `Run ${commandLine('restore', args, [])} again to carry on where it stopped: what is restored stays.`, signal)
      process.exit(exitOnSignal(signal))
    }
    let stopListening = onStop(onSignal)
    // At the password question nothing is done yet: Ctrl-C there is the question's, which says so itself
    // (whileAsking); a `kill` or the terminal closed is still this one's.
    const asking = (on: boolean): void => {
      stopListening()
      stopListening = onStop(onSignal, on ? QUESTION_SIGNALS : STOP_SIGNALS)
    }
    try {
      return await restoreInto({ storeDir, file, json, chats, passwordFile: optionalString(args, 'password-file'), showing: v => { view = v }, asking })
    } finally {
      stopListening()
    }
  }
}

interface RestoreRun {
  storeDir: string
  file: string
  json: boolean
  chats?: string[]
  passwordFile?: string
  /** Told the progress bar once it shows, for Ctrl-C to clear it. */
  showing: (view: ProgressView) => void
  /** Told while the password is asked for. */
  asking: (on: boolean) => void
}

/** Tries a person gets at typing the backup's password on a terminal; a password file gets one. */
const PASSWORD_TRIES = 3

/**
 * Opens the backup with its password: from --password-file (one try: a script's file does not change),
 * or asked on the terminal, again after a wrong or empty one, as a person mistypes what they cannot see.
 */
async function openWithPassword (file: string, passwordFile: string | undefined, asking: (on: boolean) => void): Promise<OpenedBackup> {
  const header = await readBackupHeader(file)
  if (!header.password && passwordFile !== undefined) {
    // A password was expected: a file without one could be a forgery (anyone can write such a file).
    throw new FerryError(ErrorCode.BAD_INPUT, `${file} has no password (anyone could have written or altered it), but --password-file was given: run without --password-file to restore it anyway`)
  }
  if (!header.password) return await openBackup(file)
  if (passwordFile !== undefined) return await openBackup(file, readPasswordFile(passwordFile))
  if (!isTerminal()) throw new FerryError(ErrorCode.BAD_INPUT, 'this backup is protected by a password: pass --password-file FILE (or run on a terminal to be asked)')
  for (let tries = 1; ; tries++) {
    let password: string
    for (;;) {
      asking(true)
      try {
        password = await promptPassword('Password of the backup: ')
      } finally {
        asking(false)
      }
      if (password !== '') break
      process.stderr.write('The password is empty; type the password the backup was made with.\n')
    }
    try {
      return await openBackup(file, password)
    } catch (err) {
      if (!isFerryError(err, ErrorCode.BAD_INPUT) || err.details?.reason !== 'wrong-password' || tries >= PASSWORD_TRIES) throw err
      const left = PASSWORD_TRIES - tries
      process.stderr.write(`Wrong password, try again (${left === 1 ? 'last try' : `${left} tries left`}).\n`)
    }
  }
}

async function restoreInto ({ storeDir, file, json, chats, passwordFile, showing, asking }: RestoreRun): Promise<number> {
  // The password is checked before the store is opened: a wrong one changes nothing.
  const backup = await openWithPassword(file, passwordFile, asking)
  if (!backup.header.password) sayWarning(json, 'no-password', NO_PASSWORD_RESTORE_NOTE)
  // The file is read and checked before the store is opened: a store this restore would create is not
  // left behind, empty, by a file that is refused.
  const source = await openRestore(backup, chats)
  // What is at DIR before: a store this restore creates and writes nothing into is taken back.
  const made = StoreMade.before(storeDir)
  let storage: Awaited<ReturnType<typeof openStorage>>
  try {
    storage = await openStorage(storeDir, true)
  } catch (err) {
    await source.close()
    throw err
  }
  const { store, journal } = storage
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => { closing ??= storage.close(); await closing }
  const view = json ? jsonProgress() : terminalProgress('restoring')
  showing(view)
  // The restore's receiver, once it knows where it stands: what it holds is said if the file fails.
  let receiver: ReceiverMachine | undefined
  try {
    const t0 = performance.now()
    const r = await restoreFrom(store, journal, source, {
      chats,
      onProgress: m => { receiver = m; view.update({ ...m.progress, sessionBytes: m.progress.bytesReceived }) },
      freeBytes: freeSpaceOf(storeDir)
    })
    const seconds = (performance.now() - t0) / 1000
    view.stop()
    const p = r.receiver.progress
    const skippedMessages = p.messagesHeld
    const skippedMediaBytes = p.mediaBytes - p.mediaBytesReceived
    if (json) {
      jsonEvent('restored', {
        messages: p.totalMessages, mediaBytes: p.totalMediaBytes, mediaFiles: p.totalMediaFiles, skippedMessages, skippedMediaBytes,
        seconds, kdfMs: Math.round(backup.kdfMs), summary: r.receiver.summary, mediaFilesDamaged: p.mediaFilesDamaged
      })
    } else {
      const summary = r.receiver.summary ?? []
      process.stderr.write(`Restored and verified: ${p.totalMessages} messages and ${formatBytes(p.totalMediaBytes)} of media (${seconds.toFixed(1)} s).\n`)
      if (skippedMessages > 0 || skippedMediaBytes > 0) {
        process.stderr.write(`  (${skippedMessages} messages and ${formatBytes(skippedMediaBytes)} of media were already here from an earlier run.)\n`)
      }
      for (const line of chatSummaryLines(summary)) process.stderr.write(`${line}\n`)
    }
    const damaged = damagedMediaNote(p.mediaFilesDamaged, 'the phone the backup was made from', 'restored')
    if (damaged !== undefined) sayWarning(json, 'media-damaged', damaged)
    return EXIT_OK
  } catch (err) {
    // The file failed part-way (a damaged or cut copy): what came from its intact part is stored and
    // stays. Said, with what carries on, so that a person does not take the restore for lost.
    const kept = receiver?.progress
    if (isFerryError(err, ErrorCode.BAD_INPUT) && kept !== undefined && (kept.messages > 0 || kept.mediaBytes > 0)) {
      throw new FerryError(err.code, `${err.message}. ${kept.messages} messages and ${formatBytes(kept.mediaBytes)} of media from the intact part stay here: ` +
        'run the same restore with a good copy of the file to carry on', { ...err.details, keptMessages: kept.messages, keptMediaBytes: kept.mediaBytes }, { cause: err })
    }
    // A disk that filled part-way: the store holds what came before it, whole, and a restore run
    // again carries on after it. Said, so that a person frees space rather than starting over.
    if (isFerryError(err, ErrorCode.STORE_FULL) && err.details?.neededBytes === undefined) {
      throw new FerryError(err.code, `${err.message}. What is restored so far stays: free some space and run the same restore again to carry on`, err.details, { cause: err })
    }
    // Media that do not fit, refused before any came: the same restore, run once there is room, is
    // what to do, and a store this run created holding nothing is not left behind for it.
    if (isFerryError(err, ErrorCode.STORE_FULL) && err.details?.neededBytes !== undefined && err.details.freeBytes !== undefined) {
      const bare = made.createsStore && StoreMade.holdsNothing(store, journal)
      let words = notEnoughSpace(err.details.neededBytes, err.details.freeBytes, 'run the same restore again')
      if (bare) {
        await close()
        words += ` (nothing was restored: ${made.takeBack()})`
      }
      throw new FerryError(err.code, words, err.details, { cause: err })
    }
    throw err
  } finally {
    view.stop()
    await close()
  }
}

export default restore
