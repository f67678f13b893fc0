import { afterEach, expect, it } from 'vitest'
// The package by its name, as an app imports it (dist/, built by test/global-setup.ts).
import { createFerry, generateCode, isFerryError, type Ferry, type Message } from 'chat-ferry/node'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// An app's old phone stopped mid-transfer and started again, as docs/embedding.md makes
// one (createFerry with a loopback `listen` of any port, discovery off), resumes without the code: the
// new phone, still trying the address it paired with, finds it there.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const T = Date.UTC(2026, 0, 1)
const toStop: Ferry[] = []

afterEach(async () => {
  for (const phone of toStop.splice(0)) await phone.stop()
  cleanupTempDirs()
})

async function phone (dir: string): Promise<Ferry> {
  const p = await createFerry(dir, { listen: LOOPBACK })
  toStop.push(p)
  return p
}

const portOf = (p: Ferry): string | undefined => p.addresses()[0]?.getComponents().find(c => c.name === 'tcp')?.value

it('an old phone stopped mid-transfer and created again listens where it did, and the transfer resumes without the code', async () => {
  const oldDir = tempDir('old-phone-')
  const first = await phone(oldDir)
  const files = 12
  const media = []
  for (let i = 0; i < files; i++) {
    const bytes = Uint8Array.from({ length: 1 << 20 }, (_, j) => (i * 131 + j * 7) % 251)
    media.push({ ...await first.store.writeMedia((async function * () { yield bytes })()), mime: 'image/jpeg' })
  }
  first.store.putMetadata([{ id: 'ana', name: 'Ana' }], [{ id: 'chat-ana', kind: 'direct', title: 'Ana', members: ['ana'] }], media)
  first.store.putMessages(media.map((m, i): Message => ({ conversation: 'chat-ana', id: `p${i}`, sender: 'ana', ts: T + i, kind: 'image', media: m.sha256 })))
  const port = portOf(first)

  const newPhone = await phone(tempDir('new-phone-'))
  const code = generateCode()
  // Capped, so that the old phone is stopped with most of the media still to come.
  const offered = first.send({ code, maxBytesPerSecond: 2_000_000 })
  let reopen: (p: Promise<Ferry>) => void = () => {}
  const reopened = new Promise<Ferry>(resolve => { reopen = resolve })
  let stopped = false
  const received = newPhone.receive({
    addrs: first.addresses(),
    code,
    onEvent: e => {
      // Once a file and a half is here: the first file is whole (stored as it completes), so what the
      // old phone sends again is fewer files than all, whenever its stop lands within the second file.
      if (e.type !== 'progress' || e.progress.mediaBytes < 1.5 * (1 << 20) || stopped) return
      // The app's old phone goes away mid-transfer (closed, or its process ended) and comes back.
      stopped = true
      reopen(first.stop().then(async () => await phone(oldDir)))
    }
  })
  expect(await offered.then(() => 'verified', err => isFerryError(err, 'CANCELLED') ? 'cancelled' : err)).toBe('cancelled')
  const again = await reopened
  expect(portOf(again)).toBe(port)
  let sentAgain: number | undefined
  let toldWhole: number | undefined
  const resumed = again.send({ onEvent: e => { if (e.type === 'verified') { sentAgain = e.session?.mediaFilesSent; toldWhole = e.stats.mediaFilesSent } } })
  const { summary, stats } = await received
  expect(await resumed).toMatchObject({ messages: files, totalMessages: files })
  expect(summary).toEqual([{ id: 'chat-ana', title: 'Ana', messages: files }])
  // The old phone, started again, sent only what was still to come; the new phone counts the whole
  // transfer, which brought every file.
  expect(sentAgain).toBeLessThan(files)
  expect(stats).toMatchObject({ mediaFilesSent: files, mediaFilesHeld: 0 })
  // And the old phone says so too, as the new phone counted it.
  expect(toldWhole).toBe(files)
  expect([...newPhone.store.listMedia()].length).toBe(files)
})
