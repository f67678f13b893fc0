// A `ferry receive` that finds no old phone (a wrong address, a phone that is off) or is given up with
// Ctrl-C before anything arrived leaves the disk as it found it: no folder later commands would take for
// a phone. A folder that was there stays, with its permissions; a store that holds anything stays whole,
// a code it tried included (the count of tries must outlive the run). Real processes, real sockets.
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, errorCode, inspect, killAll, newStorePath, runFerry, seedStore, senderReady,
  startReceiver, startSender, tempDir
} from './helpers/ferry-cli.js'
import { refusedPort } from '../helpers/refused-port.js'

const CODE = '314-1592-6535'
const WRONG = '314-1592-6536'
/** A peer id nobody on this machine has: only the address matters, and nothing listens there. */
const NOBODY = '12D3KooWHFrmLWTTDD4NodngMRNfSxMhxLdJ5P7bZKSWHjHjqzrh'

let source: string
let nowhere: string

beforeAll(async () => {
  source = await seedStore('tiny', 3)
  nowhere = `/ip4/127.0.0.1/tcp/${await refusedPort()}/p2p/${NOBODY}`
}, 120_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

const noPeer = (store: string, extra: string[] = []): Promise<{ code: number | null, stdout: string, stderr: string }> =>
  runFerry(['receive', '--store', store, '--code', CODE, '--no-mdns', '--no-sweep', '--peer', nowhere, '--timeout', '1', ...extra])

describe('a receive that ends before anything arrived', () => {
  it('finding no old phone, removes the store folder it created and says so', async () => {
    const store = newStorePath('mistyped')
    const r = await noPeer(store)
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('NO_PEER')
    expect(r.stderr).toContain(`(nothing was received: the new folder ${store} is removed) [NO_PEER]`)
    expect(existsSync(store)).toBe(false)
    // The folders missing on the way to it are made with it, and go with it; those that were there stay.
    const there = tempDir()
    expect((await noPeer(join(there, 'phones', 'new-phone'))).code).toBe(1)
    expect(readdirSync(there)).toEqual([])
  })

  it('whose phone cannot start (its --listen port taken), removes the store folder it created', async () => {
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    try {
      const store = newStorePath('port-taken')
      const port = (taken.address() as AddressInfo).port
      const r = await noPeer(store, ['--listen', `/ip4/127.0.0.1/tcp/${port}`])
      expect(r.stderr).toContain(`(nothing was received: the new folder ${store} is removed)`)
      expect(r.code).toBe(2)
      expect(existsSync(store)).toBe(false)
    } finally {
      await new Promise(resolve => taken.close(resolve))
    }
  })

  it('into an empty folder that was there, leaves it there, empty, with the permissions it had', async () => {
    const store = join(tempDir(), 'empty')
    mkdirSync(store)
    chmodSync(store, 0o755)
    const r = await noPeer(store, ['--json'])
    expect(r.code).toBe(1)
    const lines = r.stdout.trim().split('\n').map(l => JSON.parse(l) as { event: string, code?: string, message?: string })
    expect(lines.at(-1)).toMatchObject({ event: 'error', code: 'NO_PEER' })
    expect(lines.at(-1)?.message).toContain(`(nothing was received: ${store} is left as it was)`)
    expect(readdirSync(store)).toEqual([])
    expect(statSync(store).mode & 0o777).toBe(0o755)
  })

  // A `kill` (SIGTERM) and the terminal closed (SIGHUP) give it up as Ctrl-C does, each with its shell's code.
  it.each([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)('stopped with %s while it looks, removes the store folder it created (exit %i)', async (signal, code) => {
    const store = newStorePath('given-up')
    const p = startReceiver(store, { code: CODE, peer: nowhere, extra: ['--no-sweep', '--timeout', '60'] })
    // Once it is retrying the store is open and the address refused: the person gives up.
    await p.waitEvent('interrupted')
    p.child.kill(signal)
    expect(await p.waitExit()).toEqual({ code, signal: null })
    expect(p.all('stopped')).toHaveLength(1)
    expect(p.all('stopped')[0]).toMatchObject({ signal })
    expect(p.all('stopped')[0].message).toContain(`Nothing was received: the new folder ${store} is removed`)
    expect(p.otherLines).toEqual([])
    expect(existsSync(store)).toBe(false)
  })

  it('stopped with Ctrl-C before pairing, into a phone in use, keeps it whole and asks for the code again', async () => {
    const held = copyStore(source, 'in-use')
    const before = await inspect(held)
    const p = startReceiver(held, { code: CODE, peer: nowhere, extra: ['--no-sweep', '--timeout', '60'] })
    await p.waitEvent('interrupted')
    p.child.kill('SIGINT')
    expect(await p.waitExit()).toEqual({ code: 130, signal: null })
    // Nothing paired, so a run without the code would have nothing to carry on from.
    const stopped = p.all('stopped')
    expect(stopped).toHaveLength(1)
    expect(stopped[0].message).toMatch(/Nothing came from the old phone yet: run ferry receive .* again with the code it shows/)
    expect(stopped[0].message).not.toMatch(/no code needed/)
    expect(await inspect(held)).toEqual(before)
  })

  it('keeps a store that holds a history, and one whose only content is a code it tried', async () => {
    const held = copyStore(source, 'held')
    const before = await inspect(held)
    expect((await noPeer(held)).code).toBe(1)
    expect(await inspect(held)).toEqual(before)

    // A wrong code is counted in the new store: removing it would give whoever poses as the old phone
    // three more guesses each run.
    const sender = startSender(copyStore(source), { code: CODE })
    const { addr } = await senderReady(sender)
    const store = newStorePath('tried')
    const r = await runFerry(['receive', '--store', store, '--code', WRONG, '--no-mdns', '--no-sweep', '--peer', addr, '--timeout', '10'])
    expect(errorCode(r.stderr)).toBe('WRONG_CODE')
    expect(r.stderr).toContain('2 tries of this code left here')
    expect(existsSync(join(store, 'history.db'))).toBe(true)
    const again = await runFerry(['receive', '--store', store, '--code', WRONG, '--no-mdns', '--no-sweep', '--peer', addr, '--timeout', '10'])
    expect(again.stderr).toContain('1 try of this code left here')
  })
})
