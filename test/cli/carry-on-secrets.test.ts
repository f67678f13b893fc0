import { spawnSync } from 'node:child_process'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, killAll, LOOPBACK, seedStore, spawnFerry, type FerryProcess } from '../e2e/helpers/ferry-cli.js'
import { FERRY } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'

// The line `ferry send` and `ferry receive` print to carry on after Ctrl-C keeps --ice-servers (a run
// over WebRTC needs its TURN server again), but never the TURN password: apps keep what ferry prints.
// The user and server stay, the password is a mark, and a line pasted with the mark still in it is
// refused in words that say what to put back.

const ICE = 'stun:127.0.0.1:3478,turn:bob:hunter2@127.0.0.1:3478'
const SHOWN = "'stun:127.0.0.1:3478,turn:bob:***@127.0.0.1:3478'"
// Nothing listens on the discard port: the receiver retries there until stopped.
const NOBODY = '/ip4/127.0.0.1/tcp/9'

afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

const carryOn = (p: FerryProcess): string => {
  const line = /[Rr]un (ferry \S+ .*?) again/.exec(p.stderr)?.[1]
  if (line === undefined) throw new Error(`no line to carry on with:\n${p.describe()}`)
  return line
}

/** All a process printed, stdout and stderr. */
const said = (p: FerryProcess): string => [p.stderr, ...p.otherLines, ...p.events.map(e => JSON.stringify(e))].join('\n')

describe('the line to carry on after Ctrl-C, with a TURN server given', () => {
  it('ferry receive keeps the server and user, not the password', async () => {
    // A phone with a history of its own: a receive stopped before anything arrived in a store it created
    // takes that store back instead of saying how to carry on.
    const store = await seedStore('tiny', 2)
    const receiver = spawnFerry(['receive', '--store', store, '--code', '577-2156-6490', '--no-mdns', '--no-sweep', '--listen', LOOPBACK, '--peer', NOBODY, '--ice-servers', ICE], { name: 'receiver' })
    await until('the receiver dials', () => receiver.stderr.includes('retrying'), 30_000)
    receiver.child.kill('SIGINT')
    expect((await receiver.waitExit()).code, receiver.describe()).toBe(130)
    expect(carryOn(receiver)).toBe(`ferry receive --store ${store} --no-mdns --no-sweep --listen ${LOOPBACK} --peer ${NOBODY} --ice-servers ${SHOWN}`)
    expect(said(receiver)).not.toContain('hunter2')

    // Pasted as printed, the mark is refused before anything runs, saying what goes there.
    const args = ['receive', '--store', store, '--no-mdns', '--no-sweep', '--peer', NOBODY, '--ice-servers', 'stun:127.0.0.1:3478,turn:bob:***@127.0.0.1:3478']
    const pasted = spawnSync(process.execPath, [FERRY, ...args], { encoding: 'utf8' })
    expect(pasted.stderr).toBe("ferry: --ice-servers: the password of 'turn:bob:***@127.0.0.1:3478' is the mark ferry prints in its place: put the TURN server's password there [BAD_INPUT]\n")
    expect(pasted.status).toBe(2)
  }, 60_000)

  it('ferry send keeps the server and user, not the password', async () => {
    const store = await seedStore('tiny')
    const sender = spawnFerry(['send', '--store', store, '--no-mdns', '--no-sweep', '--listen', LOOPBACK, '--ice-servers', ICE], { name: 'sender' })
    await until('the sender listens', () => /Listening on \S+/.test(sender.stderr), 30_000)
    sender.child.kill('SIGINT')
    expect((await sender.waitExit()).code, sender.describe()).toBe(130)
    expect(carryOn(sender)).toBe(`ferry send --store ${store} --no-mdns --no-sweep --listen ${LOOPBACK} --ice-servers ${SHOWN}`)
    expect(said(sender)).not.toContain('hunter2')
  }, 60_000)
})
