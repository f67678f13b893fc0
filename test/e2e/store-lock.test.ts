// One process at a time on a store: real `ferry` processes, one of them SIGKILLed. A second process on a
// store in use is refused at once (exit 1, STORE_BUSY, naming the holder) and changes nothing, the
// first goes on to a verified transfer, and a killed holder's lock is free the moment it is gone.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  LOOPBACK, NO_MDNS, ROOT, cleanupTempDirs, copyStore, errorCode, exportStore, inspect, killAll, newStorePath, runFerry, seedStore,
  senderReady, startReceiver, startSender, tempDir, type FerryProcess
} from './helpers/ferry-cli.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { HOLDER_FILE, LOCK_FILE, readLockHolder } from '../../src/store/store-lock.js'
import { isFerryError } from '../../src/errors.js'

const CODE = '271-8281-8284'
const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')

let source: string
let sourceExport: string

beforeAll(async () => {
  source = await seedStore('tiny', 5)
  sourceExport = await exportStore(source)
}, 120_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

/** What a refused command must print: exit 1, its own code, and who holds the store. */
function expectRefused (r: { code: number | null, stderr: string }, store: string, holder: FerryProcess | number, command: string): void {
  const pid = typeof holder === 'number' ? holder : holder.child.pid
  expect(r.stderr).toContain(`ferry: store ${store} is in use by process ${pid} (${command})`)
  expect(errorCode(r.stderr)).toBe('STORE_BUSY')
  expect(r.code).toBe(1)
}

describe('the store lock', () => {
  it('refuses a second receive (and import, restore, seed, send) on a store being received into; the first ends verified', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    const first = startReceiver(target, { code: CODE, peer: ready.addr, name: 'first receiver' })
    await first.waitEvent('manifest')
    // Hold the transfer where it is: a stopped sender sends nothing, so the first receiver is
    // mid-transfer, with the store open, for as long as the second ones take.
    process.kill(sender.child.pid!, 'SIGSTOP')
    try {
      const backup = join(tempDir(), 'b.ferrybak')
      const [second, json, imported, restored, seeded, sent, inspected] = await Promise.all([
        runFerry(['receive', '--store', target, NO_MDNS, '--listen', LOOPBACK, '--code', CODE, '--peer', ready.addr]),
        runFerry(['receive', '--store', target, NO_MDNS, '--listen', LOOPBACK, '--code', CODE, '--peer', ready.addr, '--json']),
        runFerry(['import', FIXTURE, '--store', target]),
        runFerry(['backup', '--store', source, '--out', backup, '--no-password']).then(async () => await runFerry(['restore', '--store', target, '--in', backup])),
        runFerry(['seed', '--store', target, '--profile', 'tiny', '--force']),
        runFerry(['send', '--store', target, NO_MDNS, '--listen', LOOPBACK]),
        // A reader shares the store: it sees the transfer under way and changes nothing.
        inspect(target)
      ])
      expectRefused(second, target, first, 'ferry receive')
      expect(JSON.parse(json.stdout.trim().split('\n').pop()!)).toMatchObject({ event: 'error', code: 'STORE_BUSY' })
      expectRefused(json, target, first, 'ferry receive')
      expectRefused(imported, target, first, 'ferry receive')
      expectRefused(restored, target, first, 'ferry receive')
      expectRefused(seeded, target, first, 'ferry receive')
      expectRefused(sent, target, first, 'ferry receive')
      expect(inspected.transfers.length).toBe(1) // one transfer, unfinished
      expect(first.exit).toBeUndefined()
    } finally {
      process.kill(sender.child.pid!, 'SIGCONT')
    }
    const [r, s] = await Promise.all([first.waitExit(60_000), sender.waitExit(60_000)])
    expect(r.code, first.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    await first.waitEvent('verified')
    // Untouched by the refused ones: exactly the old phone's history, nothing imported, restored or seeded.
    expect(await exportStore(target)).toBe(sourceExport)
    expect((await inspect(target)).transfers).toEqual([])
    // A clean exit gives the lock back and removes its holder file.
    expect(existsSync(join(target, HOLDER_FILE))).toBe(false)
  }, 180_000)

  it('is free the moment its holder is SIGKILLed; until then the holder is named, also to a library user', async () => {
    const store = copyStore(source)
    const sender = startSender(store, { code: CODE })
    await senderReady(sender)
    expect(readLockHolder(store)).toMatchObject({ pid: sender.child.pid, command: 'ferry send' })

    expectRefused(await runFerry(['import', FIXTURE, '--store', store]), store, sender, 'ferry send')
    let err: unknown
    try { SqliteChatStore.open(store).close() } catch (e) { err = e }
    expect(isFerryError(err, 'STORE_BUSY'), String(err)).toBe(true)
    expect((err as Error).message).toBe(`store ${store} is in use by process ${sender.child.pid} (ferry send): one Ferry process at a time may use a store; wait for it to finish, or stop it`)
    expect(await exportStore(store)).toBe(sourceExport) // the refused import changed nothing

    await sender.kill9()
    // No waiting, no clean-up: the kernel let go of the lock with the process.
    const imported = await runFerry(['import', FIXTURE, '--store', store])
    expect(imported.code, imported.stderr).toBe(0)
    expect((await exportStore(store)).length).toBeGreaterThan(sourceExport.length)
    expect(existsSync(join(store, `${LOCK_FILE}-journal`))).toBe(false)
  }, 120_000)

  it('a library user holding a store is named to a ferry process it refuses; one process may open a store twice', async () => {
    const store = copyStore(source)
    const a = SqliteChatStore.open(store)
    const b = SqliteChatStore.open(store) // the same process: shared
    try {
      expect(readLockHolder(store)?.pid).toBe(process.pid)
      a.close()
      const r = await runFerry(['import', FIXTURE, '--store', store])
      expect(r.stderr).toMatch(new RegExp(`ferry: store ${store} is in use by process ${process.pid} \\(node [^)]+\\)`))
      expect(r.code).toBe(1)
      expect(b.stats().messages).toBeGreaterThan(0) // the other handle still works
    } finally {
      b.close()
    }
    // The last close gave it back.
    const r = await runFerry(['import', FIXTURE, '--store', store])
    expect(r.code, r.stderr).toBe(0)
  }, 120_000)
})
