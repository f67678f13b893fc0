import { MESSAGE_KINDS, type MessageKind } from '../store/model.js'
import type { Chat } from './cast.js'
import { MIN_MEDIA_BYTES, mimeForFileName } from './media-bytes.js'
import type { Profile } from './profiles.js'
import { Rng } from './prng.js'
import { fileName } from './text.js'

// The skeleton of a history, decided before any message is written: how many messages each chat has,
// each message's kind and features, and which media file each media message shows. Media must be
// known up front (the store needs each file's sha256 before a message can reference it), and the
// skeleton is small (6 bytes a message), so messages themselves can then be generated lazily.

export const KIND = Object.fromEntries(MESSAGE_KINDS.map((k, i) => [k, i])) as Record<MessageKind, number>

/** Per-message feature bits. */
export const F = {
  REPLY: 1,
  RECALLED: 2,
  EMPTY: 4,
  LONG: 8,
  /** A media message showing a file that another message already shows (forwarded). */
  FORWARD: 16,
  /** The notices that open a group ("created", "added"), at its first timestamp. */
  OPENING: 32,
  /** A location shared live: a bare position, no place name. */
  LIVE: 64
} as const

export type MediaKind = 'image' | 'video' | 'voice' | 'file' | 'sticker'

export interface MediaSpec {
  index: number
  kind: MediaKind
  mime: string
  size: number
  /** Voice notes and videos: shared by every message that shows the file. */
  durationMs?: number
  /** Files: the name a file message shows as its text. */
  name?: string
}

export interface ChatPlan {
  count: number
  kinds: Uint8Array
  flags: Uint8Array
  /** Index into Plan.media, -1 for none. */
  media: Int32Array
}

export interface Plan {
  chats: ChatPlan[]
  media: MediaSpec[]
}

// How often each kind turns up in an ordinary chat.
const KIND_WEIGHTS: Record<MessageKind, number> = {
  text: 0.78, image: 0.08, voice: 0.04, video: 0.015, file: 0.01, location: 0.007, sticker: 0.05, system: 0.008
}
const WEIGHTS = MESSAGE_KINDS.map(k => KIND_WEIGHTS[k])
const MEDIA_KINDS = new Set<MessageKind>(['image', 'video', 'voice', 'file', 'sticker'])
const FORWARDABLE = new Set<number>([KIND.image, KIND.video, KIND.file])

/** Exact message counts per chat: a heavy-tailed share each, with a floor so no chat is trivially small. */
function messageCounts (rng: Rng, total: number, chats: number): number[] {
  const floor = Math.min(Math.floor(total / chats), Math.max(5, Math.floor(total / chats / 10)))
  const weights = Array.from({ length: chats }, () => rng.heavy())
  const sum = weights.reduce((a, b) => a + b, 0)
  const rest = total - floor * chats
  const exact = weights.map(w => rest * w / sum)
  const counts = exact.map(x => floor + Math.floor(x))
  // largest remainder, ties by index, so the counts add up exactly
  const order = exact.map((x, i) => ({ r: x - Math.floor(x), i })).sort((a, b) => b.r - a.r || a.i - b.i)
  for (let left = total - counts.reduce((a, b) => a + b, 0), j = 0; left > 0; left--, j++) counts[order[j].i]++
  return counts
}

function drawChat (rng: Rng, chat: Chat, count: number): ChatPlan {
  const plan: ChatPlan = { count, kinds: new Uint8Array(count), flags: new Uint8Array(count), media: new Int32Array(count).fill(-1) }
  const opening = chat.conversation.kind === 'group' ? Math.min(2, count) : 0
  for (let i = 0; i < count; i++) {
    if (i < opening) {
      plan.kinds[i] = KIND.system
      plan.flags[i] = F.OPENING
      continue
    }
    const kind = rng.weighted(WEIGHTS)
    let flags = 0
    if (rng.chance(0.008)) {
      plan.kinds[i] = KIND.text // a recalled message keeps nothing of what it was
      plan.flags[i] = F.RECALLED
      continue
    }
    if (kind === KIND.text) {
      if (rng.chance(0.005)) flags |= F.EMPTY
      else if (rng.chance(0.003)) flags |= F.LONG
    }
    if (FORWARDABLE.has(kind) && rng.chance(0.07)) flags |= F.FORWARD
    if (kind === KIND.location && rng.chance(0.4)) flags |= F.LIVE
    if (i > opening && kind !== KIND.system && rng.chance(0.05)) flags |= F.REPLY
    plan.kinds[i] = kind
    plan.flags[i] = flags
  }
  return plan
}

interface Requirement {
  present: (kind: number, flags: number) => boolean
  kind: number
  flags: number
}

const requirement = (kind: number, flags: number, ignore = 0): Requirement =>
  ({ present: (k, f) => k === kind && (f & ~ignore) === flags, kind, flags })

/** Every kind in its plain form (an original image, a named place), then each feature: checked and, if missing, planted. */
const REQUIREMENTS: Requirement[] = [
  ...MESSAGE_KINDS.map(k => requirement(KIND[k], 0, F.REPLY)),
  ...[F.RECALLED, F.EMPTY, F.LONG, F.REPLY].map(f => requirement(KIND.text, f)),
  requirement(KIND.image, F.FORWARD, F.REPLY),
  requirement(KIND.location, F.LIVE, F.REPLY)
]

/**
 * Chance alone can miss a rare kind in a 300-message history; tests and demos rely on every edge case
 * being there for any seed, so a missing one replaces a plain text message picked at random.
 */
function ensureCoverage (rng: Rng, chats: ChatPlan[]): void {
  const total = chats.reduce((n, c) => n + c.count, 0)
  const at = (g: number): [ChatPlan, number] => {
    let c = 0
    while (g >= chats[c].count) g -= chats[c++].count
    return [chats[c], g]
  }
  for (const req of REQUIREMENTS) {
    if (chats.some(c => c.kinds.some((k, i) => req.present(k, c.flags[i])))) continue
    const start = rng.int(total)
    for (let step = 0; step < total; step++) {
      const [c, i] = at((start + step) % total)
      // after a non-notice, so that a planted reply has something to answer
      if (i >= 1 && c.kinds[i] === KIND.text && c.flags[i] === 0 && c.kinds[i - 1] !== KIND.system) {
        c.kinds[i] = req.kind
        c.flags[i] = req.flags
        break
      }
    }
  }
}

/** A media file's type, duration and unscaled size (bytes a real phone would have). */
function drawMedia (rng: Rng, kind: MediaKind, index: number): MediaSpec & { raw: number } {
  switch (kind) {
    case 'image': {
      const screenshot = rng.chance(0.07)
      const raw = Math.floor((screenshot ? 600_000 : 250_000) * (0.3 + rng.heavy() * 0.7))
      return { index, kind, mime: screenshot ? 'image/png' : 'image/jpeg', size: 0, raw }
    }
    case 'video': {
      const durationMs = Math.min(600_000, 2000 + Math.floor(rng.heavy() * 25_000))
      return { index, kind, mime: 'video/mp4', size: 0, durationMs, raw: durationMs * 250 } // ~2 Mbit/s
    }
    case 'voice': {
      const durationMs = Math.min(900_000, 1000 + Math.floor(rng.heavy() * 14_000))
      return { index, kind, mime: 'audio/ogg', size: 0, durationMs, raw: durationMs * 2 } // Opus at 16 kbit/s
    }
    case 'file': {
      const name = fileName(rng)
      return { index, kind, mime: mimeForFileName(name), size: 0, name, raw: Math.floor(300_000 * rng.heavy()) }
    }
    case 'sticker':
      return { index, kind, mime: 'image/webp', size: 0, raw: rng.range(12_000, 40_000) }
  }
}

/**
 * Gives every media message its file: stickers come from a small pack (so they repeat), forwarded
 * messages reuse an earlier file of their kind, the rest get a file of their own. Sizes are then scaled
 * together so the phone holds the profile's media bytes.
 */
function allocateMedia (rng: Rng, chats: ChatPlan[], targetBytes: number, largestVideoBytes?: number): MediaSpec[] {
  const media: Array<MediaSpec & { raw: number }> = []
  const originals = new Map<number, number[]>()
  const add = (kind: MediaKind): number => {
    const spec = drawMedia(rng, kind, media.length)
    media.push(spec)
    return spec.index
  }
  const stickers = chats.reduce((n, c) => n + c.kinds.filter(k => k === KIND.sticker).length, 0)
  const pack = new Array<number>(Math.max(1, Math.min(300, Math.ceil(stickers / 6)))).fill(-1)
  const forwards: Array<[ChatPlan, number]> = []
  for (const c of chats) {
    for (let i = 0; i < c.count; i++) {
      const kind = MESSAGE_KINDS[c.kinds[i]]
      if (!MEDIA_KINDS.has(kind) || (c.flags[i] & F.RECALLED) !== 0) continue
      if (kind === 'sticker') {
        const slot = rng.int(pack.length)
        if (pack[slot] < 0) pack[slot] = add('sticker')
        c.media[i] = pack[slot]
      } else if ((c.flags[i] & F.FORWARD) !== 0) {
        forwards.push([c, i])
      } else {
        c.media[i] = add(kind as MediaKind)
        const list = originals.get(c.kinds[i]) ?? []
        list.push(c.media[i])
        originals.set(c.kinds[i], list)
      }
    }
  }
  // A forward may show a file from any chat; chats are separate timelines, so "earlier" means nothing across them.
  for (const [c, i] of forwards) {
    const pool = originals.get(c.kinds[i])
    c.media[i] = pool !== undefined ? rng.pick(pool) : add(MESSAGE_KINDS[c.kinds[i]] as MediaKind)
  }
  const big = largestVideoBytes === undefined ? -1 : media.findIndex(m => m.kind === 'video')
  const raw = media.reduce((n, m, i) => i === big ? n : n + m.raw, 0)
  const rest = big < 0 ? targetBytes : Math.max(0, targetBytes - (largestVideoBytes as number))
  const scale = raw > 0 ? rest / raw : 0
  return media.map(({ raw: r, ...m }, i) => ({ ...m, size: i === big ? largestVideoBytes as number : Math.max(MIN_MEDIA_BYTES, Math.floor(r * scale)) }))
}

export function makePlan (profile: Profile, seed: number, chats: Chat[]): Plan {
  const rng = new Rng(seed, 'plan')
  const counts = messageCounts(rng, profile.messages, chats.length)
  const plans = chats.map((chat, k) => drawChat(new Rng(seed, `plan/${chat.conversation.id}`), chat, counts[k]))
  ensureCoverage(rng, plans)
  const media = allocateMedia(new Rng(seed, 'media'), plans, profile.mediaBytes, profile.largestVideoBytes)
  return { chats: plans, media }
}
