import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { ChatDb } from '../../examples/chat-app/chat-db.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// The example's command line as its README runs it: plain `node`, no loader, the package imported by
// its name from the build. Two processes move a history over loopback.

const CHAT = fileURLToPath(new URL('../../examples/chat-app/chat.js', import.meta.url))
const LOOPBACK = '/ip4/127.0.0.1/tcp/0'

interface Run { child: ChildProcess, out: string[], err: string, exit: Promise<number | null> }
const running: Run[] = []

afterEach(() => {
  for (const r of running.splice(0)) r.child.kill('SIGKILL')
  cleanupTempDirs()
})

function chat (...args: string[]): Run {
  // A clean environment: no NODE_OPTIONS (vitest's loader), nothing but PATH and the mDNS guard.
  const child = spawn(process.execPath, [CHAT, ...args], { env: { PATH: process.env.PATH, FERRY_MDNS_NETNS_ONLY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  const run: Run = { child, out: [], err: '', exit: new Promise(resolve => child.on('close', code => resolve(code))) }
  createInterface({ input: child.stdout! }).on('line', l => run.out.push(l))
  child.stderr!.on('data', (d: Buffer) => { run.err += d.toString() })
  running.push(run)
  return run
}

async function succeeds (...args: string[]): Promise<string[]> {
  const r = chat(...args)
  expect(await r.exit, r.err).toBe(0)
  return r.out
}

/** Resolves with the first stdout line matching `re` (or fails when the process ends without one). */
async function line (r: Run, re: RegExp): Promise<RegExpMatchArray> {
  return await new Promise((resolve, reject) => {
    const look = (): boolean => {
      for (const l of r.out) { const m = l.match(re); if (m !== null) { resolve(m); return true } }
      return false
    }
    if (look()) return
    r.child.stdout!.on('data', () => setImmediate(look))
    void r.exit.then(() => { if (!look()) reject(new Error(`exited without ${String(re)}: ${r.out.join('\n')}\n${r.err}`)) })
  })
}

describe('examples/chat-app/chat.js', () => {
  it('writes posts, sends them to another phone and shows them there', async () => {
    const oldPhone = join(tempDir('chat-cli-'), 'old')
    const newPhone = join(tempDir('chat-cli-'), 'new')
    const photo = join(tempDir('chat-cli-'), 'photo.jpg')
    writeFileSync(photo, Buffer.alloc(250_000, 7))
    await succeeds('post', oldPhone, 'Team', 'ana', 'Hello from the old phone')
    await succeeds('post', oldPhone, 'Team', 'bo', 'Hi 👋')
    await succeeds('post', oldPhone, 'Team', 'ana', 'the photo', '--file', photo, '--mime', 'image/jpeg')
    await succeeds('post', oldPhone, 'Bo', 'bo', 'just us')

    const sender = chat('send', oldPhone, '--listen', LOOPBACK)
    const [link] = await line(sender, /ferry:\/\/pair\?\S+/)
    const receiver = chat('receive', newPhone, link, '--listen', LOOPBACK)
    expect(await receiver.exit, receiver.err).toBe(0)
    expect(await sender.exit, sender.err).toBe(0)
    expect(receiver.out).toContain('verified: 4 messages in 2 chats (4 sent, 0 already there; 1 attachment sent)')

    const shown = await succeeds('show', newPhone)
    expect(shown.map(l => l.replace(/^ {2}\S+ /, '  '))).toEqual([
      '# Bo (1 post)', '  bo: just us',
      '# Team (3 posts)', '  ana: Hello from the old phone', '  bo: Hi 👋', '  ana: the photo'
    ])
    expect(await succeeds('show', newPhone)).toEqual(await succeeds('show', oldPhone))
    const app = ChatDb.open(newPhone)
    try {
      expect(app.db.prepare('SELECT byte_size, mime_type, on_device FROM attachments').all()).toEqual([{ byte_size: 250_000, mime_type: 'image/jpeg', on_device: 1 }])
    } finally {
      app.close()
    }
  })

  it('says what is wrong with a bad pairing link or command, without a stack trace', async () => {
    const dir = join(tempDir('chat-cli-'), 'phone')
    const bad = chat('receive', dir, 'ferry://pair?v=1&code=nonsense')
    expect(await bad.exit).toBe(1)
    expect(bad.err).toMatch(/^error \(BAD_INPUT\): not a Ferry pairing QR code/)
    expect(bad.err).not.toMatch(/\n\s+at /)
    expect(existsSync(dir), 'a mistyped link leaves no empty phone behind').toBe(false)

    const unknown = chat('fly', dir)
    expect(await unknown.exit).toBe(1)
    expect(unknown.err).toMatch(/^unknown command 'fly'\n\nUsage:/)
  })
})
