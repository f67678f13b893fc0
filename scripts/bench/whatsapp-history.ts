// A media-heavy history as people bring one in: WhatsApp "export chat with media" folders (Android's
// format), written here with seeded random media, then imported with `ferry import` into a store that
// `npm run bench -- --store DIR` moves. Its shape differs from the generated sets on purpose: photos of
// 0.3-3 MB (several chunks each), voice notes, a few videos.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Rng } from '../../src/sim/prng.js'
import { scriptArgs, usageError } from '../lib/script-args.js'

const USAGE = `npx tsx scripts/bench/whatsapp-history.ts --out DIR [options]

Writes WhatsApp exports with media into DIR/exports (one folder per chat, Android's format) and imports
them with \`ferry import\` into the store DIR/store, for \`npm run bench -- --store DIR/store\`.

  --out DIR        where the exports and the store go (must not exist yet)
  --chats N        chats (default 6)
  --messages N     messages per chat (default 4000)
  --photos N       photos per chat, 0.3-3 MB each (default 100)
  --videos N       chats with one video each (default 4)
  --video-mb N     each video's size in MB (default 150)
  --seed N         seed (default 7)
`

const values = scriptArgs(USAGE, {
  out: { type: 'string' },
  chats: { type: 'string' },
  messages: { type: 'string' },
  photos: { type: 'string' },
  videos: { type: 'string' },
  'video-mb': { type: 'string' },
  seed: { type: 'string' }
})

function count (name: string, fallback: number): number {
  const raw = values[name as keyof typeof values] as string | undefined
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) usageError(USAGE, `--${name} takes a whole number, not '${raw}'`)
  return n
}

if (values.out === undefined) usageError(USAGE, '--out DIR is needed')
const out = resolve(values.out)
if (existsSync(out)) usageError(USAGE, `${out} exists already: give a new directory`)
const chats = count('chats', 6)
const perChat = count('messages', 4000)
const photos = count('photos', 100)
const videos = count('videos', 4)
const videoBytes = count('video-mb', 150) * 1_000_000
const rng = new Rng(count('seed', 7), 'whatsapp-history')

/** Media bytes no two files share: a seeded counter through sha256, 32 bytes a block. */
let block = 0
function writeMedia (path: string, bytes: number): void {
  const fd = openSync(path, 'w')
  const buf = Buffer.alloc(1 << 20)
  try {
    for (let left = bytes; left > 0;) {
      const n = Math.min(left, buf.byteLength)
      for (let at = 0; at < n; at += 32) createHash('sha256').update(`${block++}`).digest().copy(buf, at)
      writeSync(fd, buf, 0, n)
      left -= n
    }
  } finally {
    closeSync(fd)
  }
}

if (photos > perChat) usageError(USAGE, `--photos ${photos} is more than the ${perChat} messages of a chat`)
const photoAt = new Set(Array.from({ length: photos }, (_, i) => Math.floor((i + 0.5) * perChat / Math.max(photos, 1))))
// A chat's video: half-way through, or the first message after that holds no photo or voice note.
let videoAt = Math.floor(perChat / 2)
while (photoAt.has(videoAt) || videoAt % 200 === 7) videoAt++
if (videos > 0 && videoAt >= perChat) usageError(USAGE, `no message of a chat is left for a video: give more --messages or fewer --photos`)

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')
const names = ['Ana', 'Ben', 'Chioma', 'Dmitri', 'Elif', 'Farah']
const exportsDir = join(out, 'exports')
mkdirSync(exportsDir, { recursive: true })
let files = 0
for (let c = 0; c < chats; c++) {
  const dir = join(exportsDir, `chat-${c + 1}`)
  mkdirSync(dir)
  const lines: string[] = []
  let t = Date.UTC(2022, 0, 1) + c * 3_600_000
  let wa = 0
  for (let i = 0; i < perChat; i++) {
    t += rng.int(3_600_000)
    const d = new Date(t)
    const stamp = `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${pad(d.getUTCFullYear() % 100)}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
    const day = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`
    const who = names[rng.int(names.length)]
    const attach = (kind: string, ext: string, bytes: number): void => {
      const name = `${kind}-${day}-WA${pad(++wa, 4)}.${ext}`
      writeMedia(join(dir, name), bytes)
      files++
      lines.push(`${stamp} - ${who}: ${name} (file attached)`)
    }
    if (photoAt.has(i)) attach('IMG', 'jpg', 300_000 + rng.int(2_700_000))
    else if (i % 200 === 7) attach('PTT', 'opus', 20_000 + rng.int(200_000))
    else if (c < videos && i === videoAt) attach('VID', 'mp4', videoBytes)
    else lines.push(`${stamp} - ${who}: message ${i + 1} of chat ${c + 1}, ${rng.int(1e9).toString(36)}`)
  }
  writeFileSync(join(dir, `WhatsApp Chat with Group ${c + 1}.txt`), lines.join('\n') + '\n')
}
process.stderr.write(`${chats} exports, ${chats * perChat} messages, ${files} media files in ${exportsDir}; importing...\n`)

const ferry = resolve(import.meta.dirname, '../../bin/ferry.js')
const store = join(out, 'store')
for (let c = 0; c < chats; c++) {
  execFileSync(process.execPath, [ferry, 'import', join(exportsDir, `chat-${c + 1}`), '--store', store], { stdio: ['ignore', 'ignore', 'inherit'] })
}
process.stderr.write(`the store: ${store}\n  npm run bench -- --store ${store} --lanes ferry,rsync,rsync-fsync\n`)
