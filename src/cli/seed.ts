import { existsSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { ErrorCode, FerryError } from '../errors.js'
import { seedStore, type SeedProgress, type SeedSummary } from '../sim/seed.js'
import { PROFILE_NAMES, PROFILES, getProfile } from '../sim/profiles.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { EXIT_OK, exitOnSignal, integerFlag, onStop, requireString, type Command } from './command.js'
import { commandLine } from './command-line.js'
import { formatBytes } from '../format-bytes.js'
import { jsonProgress, terminalProgress, type ProgressView } from './progress.js'
import { jsonEvent, sayStop } from './json-lines.js'
import { holdBeforeMediaRecords, holdWhileSeeding } from './test-hold.js'

const profileLines = PROFILE_NAMES.map(name => {
  const p = PROFILES[name]
  const shape = `${p.directChats + p.groupChats} chats, ${p.messages.toLocaleString('en-US')} messages, ${formatBytes(p.mediaBytes)} of media`
  // Its purpose on a line of its own: beside the shape, the longest passes the help's width.
  return `                    ${name.padEnd(7)} ${shape}\n                            ${p.purpose}`
}).join('\n')

const command: Command = {
  name: 'seed',
  summary: 'create a simulated phone: a seeded chat history with media',
  help: `Usage: ferry seed --store DIR --profile PROFILE [--seed N] [--force] [--json]

Fills the store in DIR (created when missing) with a simulated phone's history: contacts in
several scripts, direct and group chats, messages with emoji, CJK and right-to-left text, voice
notes, photos, videos, files, stickers, locations, replies, recalled messages, and media files
shared by several messages. The same profile and seed give the same history, byte for byte,
on every machine: two phones seeded alike export identical NDJSON. Stopped with Ctrl-C, a store
it created is removed; a store that was there keeps what is seeded so far, and the same seed with
--force finishes it.

Options:
  -s, --store DIR   the store (a directory holding history.db and media/)
  -p, --profile P   how big a phone:
${profileLines}
  --seed N          which history (a non-negative integer; default 1)
  --force           seed even when the store already holds something: records with the same
                    ids are replaced, others are kept (the same seed again changes nothing)
  --json            print progress events and the summary as JSON lines on stdout

Exit codes: 0 seeded, 1 failed (store or disk), 2 bad usage (a store that holds a history,
without --force), 130 stopped with Ctrl-C, 143 by kill, 129 by the terminal closing.

Examples:
  ferry seed --store ./old-phone --profile small
  ferry seed --store ./other --profile small --seed 2     a different history of the same size
  ferry seed --store ./old-phone --profile tiny --force   add a tiny history to a store in use`,
  options: {
    store: { type: 'string', short: 's' },
    profile: { type: 'string', short: 'p' },
    seed: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' }
  },
  async run (args) {
    const dir = resolve(requireString(args, 'store', 'seed'))
    const profile = getProfile(requireString(args, 'profile', 'seed'))
    const seed = integerFlag(args, 'seed', 1)
    const force = args.values.force === true
    const json = args.values.json === true

    const created = !existsSync(dir)
    const store = SqliteChatStore.open(dir, { create: true, intoForeignDirectory: force, foreignHint: ' (or pass --force to create a store in it)' })
    let ok = false
    let view: ProgressView | undefined
    // Ctrl-C (a `kill`, the terminal closed): a store this seed created goes, as it does when the seed fails. A store that was there keeps
    // what is seeded so far (each batch is committed, and the writes are upserts): said to be partial, with
    // the line that finishes it, as the same seed again only adds what is missing.
    const onSignal = (signal: NodeJS.Signals): void => {
      if (ok) return
      view?.stop()
      try { store.close() } catch {}
      if (created) {
        try { rmSync(dir, { recursive: true, force: true }) } catch {}
        sayStop(json, `\nStopped: nothing was seeded (the new store ${dir} is removed). Run the same seed again to seed it.`, signal)
      } else {
        const again = commandLine('seed', { ...args, values: { ...args.values, store: dir, force: true } }, [])
        sayStop(json, `\nStopped: ${dir} holds part of the seeded history. Run ${again} to finish it: what is seeded stays, the rest is added.`, signal)
      }
      process.exit(exitOnSignal(signal))
    }
    const stopListening = onStop(onSignal)
    try {
      if (!force) refuseNonEmptyStore(store, dir)
      const progress: ProgressView = json ? jsonProgress() : terminalProgress(`seeding ${profile.name}`)
      view = progress
      const beforeMessages = holdWhileSeeding(() => { if (json) jsonEvent('held', { before: 'messages' }); else process.stderr.write('Held: media and metadata seeded (FERRY_TEST_HOLD_SEED).\n') })
      const beforeMediaRecords = holdBeforeMediaRecords(() => { if (json) jsonEvent('held', { before: 'media records' }); else process.stderr.write('Held: media files written, not their records (FERRY_TEST_HOLD_SEED_MEDIA).\n') })
      let summary: SeedSummary
      try {
        summary = await seedStore(store, profile, seed, { onProgress: (p: SeedProgress) => progress.update(p), beforeMessages, beforeMediaRecords })
      } finally {
        progress.stop()
      }
      ok = true
      if (json) jsonEvent('seeded', { store: dir, ...summary })
      else process.stdout.write(describe(dir, summary))
      return EXIT_OK
    } finally {
      stopListening()
      store.close()
      // A failed seed leaves no half-made store behind, unless the store was there before.
      if (!ok && created) rmSync(dir, { recursive: true, force: true })
    }
  }
}


function refuseNonEmptyStore (store: SqliteChatStore, dir: string): void {
  const s = store.stats()
  if (s.contacts + s.conversations + s.messages + s.media === 0) return
  throw new FerryError(ErrorCode.BAD_INPUT, `${dir} already holds a history (${s.conversations} conversations, ${s.messages} messages, ` +
    `${s.media} media files); seed a new store, or pass --force to add to this one`)
}

function describe (dir: string, s: SeedSummary): string {
  const secs = (ms: number): string => ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`
  return `seeded ${dir} with profile ${s.profile}, seed ${s.seed}, in ${secs(s.ms)} (media ${secs(s.mediaMs)}):
  ${s.contacts} contacts, ${s.conversations} conversations, ${s.messages} messages, ${s.mediaFiles} media files (${formatBytes(s.mediaBytes)})
`
}

export default command
