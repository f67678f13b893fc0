import { ErrorCode, FerryError } from '../errors.js'
import { MESSAGE_KINDS, type Contact, type Conversation, type Location, type MediaRecord, type Message } from '../store/model.js'
import { ME, makeCast, type Cast, type Chat } from './cast.js'
import { digestPieces, mediaPieces } from './media-bytes.js'
import { F, KIND, makePlan, type ChatPlan, type MediaSpec } from './plan.js'
import { deriveKey, hex8, permute32, Rng } from './prng.js'
import { getProfile, type Profile, type ProfileName } from './profiles.js'
import { PLACES, chatLine, caption, groupCreated, longText, membersAdded, notice, type Locale } from './text.js'
import { timestamps } from './timeline.js'

// A simulated phone's history: a pure function of (profile, seed). Contacts, conversations and the
// media list are small and returned whole; messages (up to millions) and media bytes (up to GBs) are
// generated on demand, so a consumer holds only what it is writing.

export interface SimMedia extends MediaSpec {
  /** The file's bytes, made on demand in 256 KiB pieces; the same on every call. */
  pieces: () => AsyncGenerator<Uint8Array>
}

export interface History {
  profile: Profile
  seed: number
  contacts: Contact[]
  conversations: Conversation[]
  /** Every media file, each once however many messages show it. */
  media: SimMedia[]
  /** Known before any message is generated: for progress bars. */
  messageCount: number
  mediaBytes: number
  /**
   * All messages, chat by chat, in time order (ts never decreases) within a chat. Media messages name
   * their file by sha256, which only its bytes decide: `mediaIds[i]` is `media[i]`'s sha256, as
   * hashMedia or the store's writeMedia computed it. Each call starts afresh and yields the same.
   */
  messages: (mediaIds: readonly string[]) => Generator<Message>
  /** The media records, given each file's sha256 (see messages). */
  mediaRecords: (mediaIds: readonly string[]) => MediaRecord[]
}

export function generateHistory (profile: ProfileName | Profile, seed: number): History {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new FerryError(ErrorCode.BAD_INPUT, `the seed must be a non-negative integer, got ${seed}`)
  }
  const p = typeof profile === 'string' ? getProfile(profile) : profile
  const cast = makeCast(p, seed)
  const plan = makePlan(p, seed, cast.chats)
  const media = plan.media.map((spec): SimMedia => ({
    ...spec,
    pieces: () => mediaPieces(deriveKey(seed, `media/${spec.index}`), spec.mime, spec.size)
  }))
  const checkIds = (ids: readonly string[]): void => {
    if (ids.length !== media.length) {
      throw new FerryError(ErrorCode.INTERNAL, `expected ${media.length} media sha256s, got ${ids.length}`)
    }
  }
  return {
    profile: p,
    seed,
    contacts: cast.contacts,
    conversations: cast.chats.map(c => c.conversation),
    media,
    messageCount: p.messages,
    mediaBytes: media.reduce((n, m) => n + m.size, 0),
    messages: function * (mediaIds) {
      checkIds(mediaIds)
      for (const [k, chat] of cast.chats.entries()) {
        yield * chatMessages({ seed, cast, media: plan.media, mediaIds }, chat, plan.chats[k])
      }
    },
    mediaRecords: (mediaIds) => {
      checkIds(mediaIds)
      return media.map(m => ({ sha256: mediaIds[m.index], size: m.size, mime: m.mime }))
    }
  }
}

/** Every media file's sha256, by streaming its bytes (what a store's writeMedia returns, without a store). */
export async function hashMedia (history: History): Promise<string[]> {
  const ids: string[] = []
  for (const m of history.media) ids.push((await digestPieces(m.pieces())).sha256)
  return ids
}

interface Context {
  seed: number
  cast: Cast
  media: readonly MediaSpec[]
  mediaIds: readonly string[]
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6

function location (rng: Rng, live: boolean): Location {
  const place = rng.pick(PLACES)
  if (!live) return { lat: place.lat, lon: place.lon, label: place.label }
  // a live position somewhere near, without a name
  return { lat: round6(place.lat + (rng.float() - 0.5) * 0.02), lon: round6(place.lon + (rng.float() - 0.5) * 0.02) }
}

/** An earlier message to reply to: mostly the last few, sometimes far back; never a notice. */
function replyTarget (rng: Rng, plan: ChatPlan, i: number): number | undefined {
  const r = rng.float()
  const back = r < 0.7 ? rng.int(5) : r < 0.95 ? rng.int(50) : rng.int(500)
  const isNotice = (j: number): boolean => plan.kinds[j] === KIND.system
  let j = Math.max(0, i - 1 - back)
  for (let down = j; down >= 0; down--) if (!isNotice(down)) return down
  for (j++; j < i; j++) if (!isNotice(j)) return j
  return undefined
}

/** The two notices a group starts with: its creation, then everyone else joining. */
function openingNotice (cast: Cast, conversation: Conversation, i: number): string {
  const [creator, ...others] = conversation.members
  return i === 0 ? groupCreated(cast.nameOf(creator), conversation.title) : membersAdded(cast.nameOf(creator), others.map(cast.nameOf))
}

function * chatMessages (ctx: Context, chat: Chat, plan: ChatPlan): Generator<Message> {
  const { conversation, creator, chattiness } = chat
  const { members } = conversation
  const group = conversation.kind === 'group'
  const rng = new Rng(ctx.seed, `messages/${conversation.id}`)
  const times = timestamps(new Rng(ctx.seed, `times/${conversation.id}`), plan)
  // Opaque ids like real apps use: their order says nothing about time, which (ts, id) ordering must handle.
  const k1 = rng.u32()
  const k2 = rng.u32()
  const idOf = (i: number): string => hex8(permute32(i, k1)) + hex8(permute32(i, k2))
  const localeOf = (sender: string): Locale => rng.chance(0.85) ? chat.locale : ctx.cast.localeOf.get(sender) ?? chat.locale
  let sender = creator
  const unreadTail = rng.range(0, 3)

  for (let i = 0; i < plan.count; i++) {
    const kind = MESSAGE_KINDS[plan.kinds[i]]
    const flags = plan.flags[i]
    const opening = (flags & F.OPENING) !== 0
    const ts = times[i]
    const album = kind === 'image' && i > 0 && plan.kinds[i - 1] === KIND.image && ts === times[i - 1] // sent together
    if (opening) sender = creator
    else if (!album && !rng.chance(group ? 0.35 : 0.55)) sender = members[rng.weighted(chattiness)]

    const m: Message = { conversation: conversation.id, id: idOf(i), sender, ts, kind }
    if ((flags & F.RECALLED) !== 0) {
      m.status = 'recalled'
      yield m
      continue
    }
    const spec = plan.media[i] >= 0 ? ctx.media[plan.media[i]] : undefined
    switch (kind) {
      case 'text':
        m.text = (flags & F.EMPTY) !== 0 ? '' : (flags & F.LONG) !== 0 ? longText(rng, localeOf(sender)) : chatLine(rng, localeOf(sender))
        break
      case 'image':
      case 'video': {
        const text = caption(rng, localeOf(sender))
        if (text !== undefined) m.text = text
        break
      }
      case 'file':
        if (spec?.name !== undefined) m.text = spec.name
        break
      case 'location':
        m.location = location(rng, (flags & F.LIVE) !== 0)
        break
      case 'system':
        m.text = opening ? openingNotice(ctx.cast, conversation, i) : notice(rng, group, ctx.cast.nameOf(group ? sender : members[0]))
        break
    }
    if (spec !== undefined) {
      m.media = ctx.mediaIds[spec.index]
      if (spec.durationMs !== undefined) m.durationMs = spec.durationMs
    }
    if ((flags & F.REPLY) !== 0) {
      const j = replyTarget(rng, plan, i)
      if (j !== undefined) m.replyTo = idOf(j)
    }
    if (kind !== 'system') {
      const last = i >= plan.count - 2
      if (sender === ME) m.status = last ? (rng.chance(0.5) ? 'sent' : 'delivered') : rng.chance(0.97) ? 'read' : 'delivered'
      else if (i >= plan.count - unreadTail) m.status = 'delivered' // not yet read on this phone
    }
    yield m
  }
}
