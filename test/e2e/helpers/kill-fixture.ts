// A phone built for kill tests: many large text messages (so the message phase spans several progress
// events) and a few multi-megabyte media files (so a kill lands inside a file and leaves a .part),
// written as canonical NDJSON and imported with `ferry import`. Deterministic for a given shape.
import { createCipheriv, createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ferryOk, tempDir } from './ferry-cli.js'
import { SqliteChatStore } from '../../../src/store/sqlite-store.js'
import type { Message } from '../../../src/store/model.js'

export interface KillFixtureShape {
  messages: number
  /** Text bytes per message (ASCII). */
  textBytes: number
  mediaFiles: number
  mediaBytes: number
}

function stream (seed: string): (n: number) => Buffer {
  const key = createHash('sha256').update(`ferry-kill-${seed}`).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  return n => cipher.update(Buffer.alloc(n))
}

/** Imports the fixture into a new store and returns its directory. */
export async function killFixture (shape: KillFixtureShape): Promise<string> {
  const base = tempDir('ferry-kill-fixture-')
  mkdirSync(join(base, 'media'))
  const lines: string[] = []
  const contacts = ['u1', 'u2', 'u3', 'u4']
  for (const [i, id] of contacts.entries()) lines.push(JSON.stringify({ type: 'contact', id, name: `Contact ${i + 1}` }))
  const chats = [
    { id: 'k1', kind: 'direct', title: 'Ana', members: ['u1', 'me'] },
    { id: 'k2', kind: 'group', title: 'Crew', members: ['u2', 'u3', 'me', 'u4'] },
    { id: 'k3', kind: 'direct', title: 'Bo', members: ['u3', 'me'] }
  ]
  for (const c of chats) lines.push(JSON.stringify({ type: 'conversation', ...c }))
  const media: string[] = []
  for (let i = 0; i < shape.mediaFiles; i++) {
    const bytes = stream(`media-${i}`)(shape.mediaBytes)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    writeFileSync(join(base, 'media', sha256), bytes)
    media.push(sha256)
    lines.push(JSON.stringify({ type: 'media', sha256, size: shape.mediaBytes, mime: 'video/mp4', path: `media/${sha256}` }))
  }
  const text = stream('text')
  const t0 = Date.parse('2024-01-01T00:00:00Z')
  for (let i = 0; i < shape.messages; i++) {
    const c = chats[i % chats.length]
    const m: Record<string, unknown> = { type: 'message', conversation: c.id, id: `m${i}`, sender: i % 2 === 0 ? 'me' : c.members[0], ts: t0 + i * 60_000 }
    const step = Math.max(1, Math.floor(shape.messages / Math.max(1, media.length)))
    if (i % step === 0 && i / step < media.length) {
      m.kind = 'video'
      m.media = media[i / step]
    } else {
      m.kind = 'text'
      m.text = text(Math.ceil(shape.textBytes * 3 / 4)).toString('base64').slice(0, shape.textBytes)
    }
    lines.push(JSON.stringify(m))
  }
  const file = join(base, 'history.ndjson')
  writeFileSync(file, lines.join('\n') + '\n')
  const store = join(tempDir('ferry-kill-source-'), 'phone')
  await ferryOk(['import', file, '--store', store], 120_000)
  return store
}

/**
 * The fixture's old phone, used since a first transfer (for second-transfer and chaos tests): messages
 * appended to every chat, others written into the middle of one, some edited (same id, new text), a new
 * chat, and a new video. Nothing is deleted, so a verified second transfer leaves the new phone equal to
 * this one. The texts keep the fixture's length, so progress still measures the work.
 */
export async function useFixturePhone (dir: string, shape: KillFixtureShape, changes: number): Promise<void> {
  const store = SqliteChatStore.open(dir)
  try {
    const text = stream('later text')
    const body = (): string => text(Math.ceil(shape.textBytes * 3 / 4)).toString('base64').slice(0, shape.textBytes)
    const bytes = stream('later video')(shape.mediaBytes)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    const file = join(tempDir('ferry-kill-later-'), 'video.mp4')
    writeFileSync(file, bytes)
    await store.addMediaFromFile(file)
    store.putMetadata([], [{ id: 'k4', kind: 'direct', title: 'Cy', members: ['u4', 'me'] }], [{ sha256, size: shape.mediaBytes, mime: 'video/mp4' }])
    const t0 = Date.parse('2024-01-01T00:00:00Z')
    const end = t0 + shape.messages * 60_000
    const chats = ['k1', 'k2', 'k3', 'k4']
    const later: Message[] = []
    for (let i = 0; i < changes; i++) {
      const conversation = chats[i % chats.length]
      // Every fifth one in the middle of k2's history, between messages that are there.
      const ts = i % 5 === 4 && conversation === 'k2' ? t0 + (i * 7919 % shape.messages) * 60_000 + 30_000 : end + i * 60_000
      later.push({ conversation, id: `later${i}`, sender: 'me', ts, kind: 'text', text: body() })
    }
    later.push({ conversation: 'k4', id: 'later-video', sender: 'u4', ts: end, kind: 'video', media: sha256 })
    const edited = (await store.messages('k3', undefined, 8)).filter(m => m.kind === 'text').map(m => ({ ...m, text: body() }))
    store.putMessages([...later, ...edited])
  } finally {
    store.close()
  }
}
