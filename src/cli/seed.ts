import { existsSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { ErrorCode, FerryError } from '../errors.js'
import { seedStore, type SeedProgress, type SeedSummary } from '../sim/seed.js'
import { PROFILE_NAMES, PROFILES, getProfile } from '../sim/profiles.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { EXIT_OK, integerFlag, requireString, type Command } from './command.js'
import { formatBytes } from '../format-bytes.js'
import { jsonProgress, terminalProgress, type ProgressView } from './progress.js'
import { jsonEvent } from './json-lines.js'

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
on every machine: two phones seeded alike export identical NDJSON.

Options:
  -s, --store DIR   the store (a directory holding history.db and media/)
  -p, --profile P   how big a phone:
${profileLines}
  --seed N          which history (a non-negative integer; default 1)
  --force           seed even when the store already holds something: records with the same
                    ids are replaced, others are kept (the same seed again changes nothing)
  --json            print progress events and the summary as JSON lines on stdout

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
    try {
      if (!force) refuseNonEmptyStore(store, dir)
      const view: ProgressView = json ? jsonProgress() : terminalProgress(`seeding ${profile.name}`)
      let summary: SeedSummary
      try {
        summary = await seedStore(store, profile, seed, { onProgress: (p: SeedProgress) => view.update(p) })
      } finally {
        view.stop()
      }
      ok = true
      if (json) jsonEvent('seeded', { store: dir, ...summary })
      else process.stdout.write(describe(dir, summary))
      return EXIT_OK
    } finally {
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
