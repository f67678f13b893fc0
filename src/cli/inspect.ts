import type { Selection } from '../store/model.js'
import { SqliteChatStore, type StoreStats } from '../store/sqlite-store.js'
import { NodeJournal } from '../journal/node-journal.js'
import { TransferLog } from '../journal/transfer-log.js'
import { PairingRecords } from '../journal/pairing-records.js'
import { EXIT_OK, requireString, type Command } from './command.js'
import { formatBytes } from '../format-bytes.js'
import { printable } from '../printable.js'
import { cell, displayWidth } from './text-width.js'
import { chatsWord } from './selection-flags.js'
import { shellWord } from './command-line.js'
import { jsonEvent } from './json-lines.js'

/** What `inspect --json` prints (as an `inspected` event, beside `event` and `at`): stable keys for scripts and tests. */
export interface InspectReport {
  store: string
  storeId: string
  /**
   * The histories this store continues: a backup of each was restored into it (absent when none). A new
   * phone that received from one of them takes this phone for it, so what its person deleted stays so.
   */
  formerIds?: string[]
  stats: StoreStats
  conversations: Array<{ id: string, kind: string, title: string, members: number, messages: number }>
  transfers: Array<{
    transferId: string
    sourceId: string
    selection: Selection
    /** Messages stored since the transfer was last verified. */
    messages: number
    sessions: number
    updatedAt: string
    /** A restore from a backup file (`ferry restore`), not a transfer from a phone: what it wrote stays. */
    restore: boolean
  }>
  partialMedia: Array<{ sha256: string, length: number, size?: number }>
  /** Media files an import killed before it committed left, which no record names (absent when none). */
  leftByKilledImport?: { files: number, bytes: number }
  /** The phone this one paired with and has not finished with (never the resume token itself). */
  pairing?: { role: 'sender' | 'receiver', peer: string, nameplate: string, addrs: string[], since: string }
}

export async function inspectStore (store: SqliteChatStore): Promise<InspectReport> {
  // Counts come from indexes: a damaged page of messages would show as a store that reads well, which
  // export and backup then refuse.
  store.checkPages()
  const counts = store.messageCounts()
  const report: InspectReport = {
    store: store.dir,
    storeId: store.storeId,
    stats: store.stats(),
    conversations: store.listConversations().map(c => ({
      id: c.id, kind: c.kind, title: c.title, members: c.members.length, messages: counts.get(c.id) ?? 0
    })),
    transfers: [],
    partialMedia: []
  }
  if (store.formerIds.length > 0) report.formerIds = store.formerIds
  const left = store.unsettledMedia()
  if (left.files > 0) report.leftByKilledImport = left
  const journal = NodeJournal.existing(store.dir)
  if (journal === undefined) return report
  try {
    report.transfers = (await new TransferLog(journal).unfinished()).map(t => ({
      transferId: t.transferId,
      sourceId: t.sourceId,
      selection: t.selection,
      messages: t.written,
      sessions: t.sessions,
      updatedAt: new Date(t.updatedAt).toISOString(),
      restore: t.restore === true
    }))
    const pairing = await new PairingRecords(journal).load()
    if (pairing !== undefined) {
      report.pairing = { role: pairing.role, peer: pairing.peerId, nameplate: pairing.nameplate, addrs: pairing.addrs, since: new Date(pairing.createdAt).toISOString() }
    }
    const sizes = new Map([...store.listMedia()].map(m => [m.sha256, m.size]))
    for (const sha256 of await journal.parts.list()) {
      const length = await journal.parts.size(sha256)
      if (length === 0) continue
      const size = sizes.get(sha256)
      report.partialMedia.push(size === undefined ? { sha256, length } : { sha256, length, size })
    }
  } finally {
    await journal.close()
  }
  return report
}

function describeSelection (s: Selection): string {
  const parts: string[] = []
  parts.push(s.conversations === undefined ? 'all conversations' : `${s.conversations.length} conversation(s)`)
  if (s.since !== undefined) parts.push(`from ${new Date(s.since).toISOString()}`)
  if (s.until !== undefined) parts.push(`until ${new Date(s.until).toISOString()}`)
  return parts.join(', ')
}

export function renderReport (r: InspectReport): string {
  const s = r.stats
  const lines = [
    `Store ${r.store} (id ${r.storeId})`,
    ...(r.formerIds === undefined ? [] : [`  restored from a backup of ${r.formerIds.map(printable).join(', ')}: it sends as that phone's history carried on`]),
    `  ${s.contacts} contacts, ${s.conversations} conversations, ${s.messages} messages`,
    `  media: ${s.media} records; ${s.mediaPresent} files present (${formatBytes(s.mediaBytesPresent)}), ` +
      `${s.mediaMissing} missing (${formatBytes(s.mediaBytesMissing)})`
  ]
  if (r.leftByKilledImport !== undefined) {
    const { files, bytes } = r.leftByKilledImport
    lines.push(`  ${files === 1 ? '1 media file' : `${files} media files`} (${formatBytes(bytes)}) left by an import or seed that was killed, ` +
      'named by no record: the next command that writes the store (import, seed, receive, restore) removes them')
  }
  if (r.conversations.length > 0) {
    lines.push('', 'Conversations:')
    // Each id as --chats takes it: a comma in one is escaped, as the list is comma-separated, and a space
    // at either end, as --chats trims them.
    const words = r.conversations.map(c => chatsWord(c.id))
    const ids = words.map(printable)
    const width = Math.min(24, Math.max(...ids.map(displayWidth)))
    r.conversations.forEach((c, i) => {
      const rest = `${c.kind.padEnd(6)}  ${String(c.messages).padStart(8)} messages  ${c.members} members  ${printable(JSON.stringify(c.title))}`
      // An id is what --chats takes, so it is never cut: one too wide for its column has a line of its own.
      if (displayWidth(ids[i]) > width) lines.push(`  ${ids[i]}`, `  ${' '.repeat(width)}  ${rest}`)
      else lines.push(`  ${cell(words[i], width)}  ${rest}`)
    })
    const escaped = words.find((w, i) => w !== r.conversations[i].id)
    if (escaped !== undefined) {
      lines.push('', `Ids are shown as --chats takes them: \\, is a comma in an id, \\\\ a backslash, '\\ ' a space at its start or end (in a shell, quoted: --chats ${printable(shellWord(escaped))}).`)
    }
  }
  // Each with the command that carries it on: a restore is not resumed by a receive.
  const transfers = r.transfers.filter(t => !t.restore)
  if (transfers.length > 0) {
    lines.push('', 'Unfinished incoming transfers (run the same receive again to resume):')
    for (const t of transfers) {
      lines.push(`  ${t.transferId.slice(0, 8)} from ${t.sourceId}: ${describeSelection(t.selection)}; ${t.messages} messages stored, not yet verified; last activity ${t.updatedAt}`)
    }
  }
  const restores = r.transfers.filter(t => t.restore)
  if (restores.length > 0) {
    lines.push('', 'Unfinished restores from a backup file (run the same ferry restore again to carry on; what is restored stays):')
    for (const t of restores) {
      lines.push(`  ${t.transferId.slice(0, 8)} from ${t.sourceId}: ${describeSelection(t.selection)}; ${t.messages} messages restored, not yet verified; last activity ${t.updatedAt}`)
    }
  }
  if (r.pairing !== undefined) {
    const p = r.pairing
    lines.push('', `Paired (${p.role === 'sender' ? 'as the old phone' : 'as the new phone'}) with ${p.peer} since ${p.since}: either side restarted without a code reconnects to it.`)
  }
  if (r.partialMedia.length > 0) lines.push('', ...partialMediaLines(r.partialMedia))
  return lines.join('\n')
}

/** Up to this many partly received files are listed one by one; more are summed up. */
const PARTIAL_MEDIA_LISTED = 5

/**
 * The media files received in part, kept for the run that carries on. A transfer or restore stopped
 * among many small files leaves one for each it had in hand: listed, they would bury the rest of the
 * report, and a person needs how many and how much; the hashes are in --json.
 */
export function partialMediaLines (parts: InspectReport['partialMedia']): string[] {
  if (parts.length <= PARTIAL_MEDIA_LISTED) {
    return ['Partly received media:', ...parts.map(p => {
      const of = p.size === undefined ? '' : ` of ${formatBytes(p.size)} (${p.size === 0 ? 100 : Math.floor(p.length / p.size * 100)}%)`
      return `  ${p.sha256}  ${formatBytes(p.length)}${of}`
    })]
  }
  const received = parts.reduce((n, p) => n + p.length, 0)
  const sized = parts.filter(p => p.size !== undefined)
  const whole = sized.filter(p => p.length >= (p.size as number)).length
  const of = sized.length === parts.length ? ` of ${formatBytes(sized.reduce((n, p) => n + (p.size as number), 0))}` : ''
  return [
    'Partly received media (the run that carries on starts from them; --json lists each):',
    `  ${parts.length} files, ${formatBytes(received)}${of} received${whole > 0 ? `, ${whole} of them whole` : ''}`
  ]
}

const command: Command = {
  name: 'inspect',
  summary: 'show what a store holds and any unfinished incoming transfer',
  help: `Usage: ferry inspect --store DIR [--json]

Shows what a store holds: counts of contacts, conversations and messages, each conversation with
its message count (its id as --chats takes it: a comma in an id shows as \\,, a space at its start
or end as '\\ '), media files present and missing (with their bytes), media files a killed import
left, and any incoming transfer or restore that has not finished, with how far it got (messages
committed, partly received media).
It only reads, so it may run while another process (a receive) writes the store: it shows the
store as it was when it started.
It reads the whole database once, to say so when it is damaged (exit 1), as export and backup would.

Options:
  -s, --store DIR   the store to inspect
  --json            print one JSON event, inspected, on one line, instead of text (for scripts)

Exit codes: 0 shown, 1 failed (the store is damaged or cannot be read), 2 bad usage (no store
at DIR).

Examples:
  ferry inspect --store ./new-phone
  ferry inspect --store ./new-phone --json | jq '.stats.messages'`,
  options: {
    store: { type: 'string', short: 's' },
    json: { type: 'boolean' }
  },
  async run (args) {
    // Read-only: inspecting a store while a transfer writes it shows how far it got (a snapshot).
    const store = SqliteChatStore.open(requireString(args, 'store', 'inspect'), { readOnly: true })
    try {
      const report = await inspectStore(store)
      // One `inspected` event, as every --json line is one (json-lines.ts): an app reads stdout line by line.
      if (args.values.json === true) jsonEvent('inspected', { ...report })
      else process.stdout.write(renderReport(report) + '\n')
      return EXIT_OK
    } finally {
      store.close()
    }
  }
}

export default command
