import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createCipheriv, createHash } from 'node:crypto'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { exportNdjson } from '../../src/sim/export.js'
import type { Contact, Conversation, Message, MessageKind } from '../../src/store/model.js'

const dirs: string[] = []

export function tempDir (name = 'ferry-test-', parent = tmpdir()): string {
  const d = mkdtempSync(join(parent, name))
  dirs.push(d)
  return d
}

export function cleanupTempDirs (): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
}

export function openStore (dir = tempDir()): SqliteChatStore {
  return SqliteChatStore.open(dir, { create: true })
}

/**
 * Puts `messages` with a bare conversation and media record for each one they name that the store does
 * not hold (it refuses a message naming either): for tests about the messages alone.
 */
export function putWithPlaces (store: SqliteChatStore, messages: Message[]): void {
  store.transaction(() => {
    const chats = [...new Set(messages.map(m => m.conversation))].filter(id => !store.hasConversation(id))
    const media = [...new Set(messages.flatMap(m => m.media ?? []))].filter(sha256 => !store.hasMediaRecord(sha256))
    store.putMetadata([], chats.map(id => ({ id, kind: 'direct' as const, title: id, members: [] })),
      media.map(sha256 => ({ sha256, size: 0, mime: 'application/octet-stream' })))
    store.putMessages(messages)
  })
}

/** The files in a store's content-addressed media folder, by name, whatever its records say. */
export function mediaFiles (store: { dir: string }): string[] {
  const root = join(store.dir, 'media')
  return readdirSync(root).filter(d => /^[0-9a-f]{2}$/.test(d)).flatMap(d => readdirSync(join(root, d))).sort()
}

export async function exportText (store: SqliteChatStore): Promise<string> {
  const chunks: Buffer[] = []
  const out = new Writable({ write (c: Buffer, _e, cb) { chunks.push(Buffer.from(c)); cb() } })
  await exportNdjson(store, out)
  return Buffer.concat(chunks).toString('utf8')
}

/** Deterministic pseudo-random bytes (chacha20 keystream), streamed in pieces. */
export async function * keystream (seed: string, size: number, piece = 64 * 1024): AsyncGenerator<Uint8Array> {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('chacha20', key, Buffer.alloc(16))
  for (let left = size; left > 0; left -= piece) yield cipher.update(Buffer.alloc(Math.min(piece, left)))
}

export interface HistorySpec {
  conversations: number
  messagesPerConversation: number
  mediaSizes: number[]
  /** Text of one message of this many bytes (to exercise fragmentation). */
  hugeMessageBytes?: number
}

/**
 * A small hand-made history with every edge the engine must carry: empty texts, astral-plane ids,
 * equal timestamps, shared media, a huge message.
 */
export async function fillStore (store: SqliteChatStore, spec: HistorySpec): Promise<void> {
  const media = []
  for (const [i, size] of spec.mediaSizes.entries()) {
    const { sha256 } = await store.writeMedia(keystream(`media-${i}`, size))
    media.push({ sha256, size, mime: i % 2 === 0 ? 'image/jpeg' : 'video/mp4' })
  }
  const contacts: Contact[] = [{ id: 'u1', name: 'Alice' }, { id: 'u2', name: '李雷', phone: '+86 10 1234' }, { id: 'u3', name: 'مريم' }]
  const conversations: Conversation[] = []
  const messages: Message[] = []
  const kinds: MessageKind[] = ['text', 'image', 'voice', 'location', 'system', 'video']
  for (let c = 0; c < spec.conversations; c++) {
    const id = c === 1 ? 'c-😀' : `c${c}`
    conversations.push({ id, kind: c % 2 === 0 ? 'direct' : 'group', title: `Chat ${c}`, members: c % 2 === 0 ? ['u1', 'me'] : ['u3', 'me', 'u2'] })
    for (let i = 0; i < spec.messagesPerConversation; i++) {
      const kind = kinds[i % kinds.length]
      const m: Message = { conversation: id, id: `m${i}`, sender: i % 3 === 0 ? 'me' : 'u1', ts: 1_700_000_000_000 + Math.floor(i / 2) * 1000, kind }
      if (kind === 'text') m.text = i % 12 === 0 ? '' : `hello ${i} 你好 👋 שלום`
      if ((kind === 'image' || kind === 'video') && media.length > 0) m.media = media[i % media.length].sha256
      if (kind === 'voice') m.durationMs = 1234 + i
      if (kind === 'location') m.location = i % 4 === 0 ? { lat: 52.52, lon: 13.405, label: 'Berlin' } : { lat: -33.8688, lon: 151.2093 }
      if (i > 0 && i % 7 === 0) m.replyTo = `m${i - 1}`
      if (i % 11 === 0) m.status = 'recalled'
      messages.push(m)
    }
  }
  if (spec.hugeMessageBytes !== undefined) {
    messages.push({ conversation: 'c0', id: 'huge', sender: 'u1', ts: 1_800_000_000_000, kind: 'text', text: 'x'.repeat(spec.hugeMessageBytes) })
  }
  store.putMetadata(contacts, conversations, media)
  store.putMessages(messages)
}

/** Every piece of `it`, as one buffer. */
export async function bytesOf (it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const p of it) parts.push(Buffer.from(p))
  return Buffer.concat(parts)
}
