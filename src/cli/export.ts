import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { finished } from 'node:stream/promises'
import { exportNdjson, type ExportResult } from '../sim/export.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { EXIT_OK, optionalString, requireString, type Command } from './command.js'
import { createPrivateFile } from '../private-files.js'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { refuseDirectory, refuseInsideStore } from '../durable-fs.js'

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
  -o, --out FILE    write to FILE (replaced only once the export is complete; default: stdout)
  --media DIR       also copy the media files into DIR and give each media line a "path"
                    (relative to FILE's directory, or to the current directory for stdout);
                    an export that fails takes away the files it copied (and DIR, if it made it)

FILE and the media copies hold the history, so they are private to you (mode 0600, a DIR Ferry
creates 0700), as the store is; what you redirect stdout into gets your umask's mode.

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
    if (out !== undefined) refuseInsideStore(out, '--out', storeDir, 'file')
    if (mediaDir !== undefined) refuseInsideStore(mediaDir, '--media', storeDir, 'folder')
    // Read-only: one consistent snapshot, even while a transfer writes the store.
    const store = SqliteChatStore.open(storeDir, { readOnly: true })
    try {
      if (out === undefined) {
        await exportNdjson(store, process.stdout, { mediaDir })
        return EXIT_OK
      }
      const r = await exportToFile(store, out, mediaDir)
      process.stdout.write(`exported ${r.contacts} contacts, ${r.conversations} conversations, ${r.media} media records ` +
        `(${r.mediaFiles} files copied), ${r.messages} messages to ${out}\n`)
      return EXIT_OK
    } finally {
      store.close()
    }
  }
}

/**
 * Writes beside the target and renames: an interrupted export never leaves a truncated file behind. The
 * file holds the whole history, so it is made as private as the store (0600), and new, never through a
 * symlink (the rename replaces a link at FILE rather than writing where it points).
 */
async function exportToFile (store: SqliteChatStore, out: string, mediaDir?: string): Promise<ExportResult> {
  refuseDirectory(out, '--out', 'history.ndjson')
  const file = resolve(out)
  const tmp = `${file}.${process.pid}.tmp`
  let fd: number
  try {
    await mkdir(dirname(file), { recursive: true })
    fd = createPrivateFile(tmp)
  } catch (err) {
    throw storeError(err, `writing the export ${file}`)
  }
  const stream = createWriteStream(tmp, { fd })
  try {
    return await exportNdjson(store, stream, {
      mediaDir,
      relativeTo: dirname(file),
      // A write that fails at the end (a full disk) surfaces only here: the media copied go with it.
      complete: async () => {
        stream.end()
        await finished(stream)
        await rename(tmp, file)
      }
    })
  } catch (err) {
    stream.destroy()
    await rm(tmp, { force: true })
    throw storeError(err, `writing the export ${file}`)
  }
}

export default command
