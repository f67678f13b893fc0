// The old phone's `ferry send` dies after it sent everything and before it heard Verified (killed, its
// battery gone). The new phone's `ferry receive` must neither take the dead link for the old phone's
// hang-up nor forget the pairing: it ends verified, says the old phone did not hear it, and exits 0. A
// `ferry send` started again there then waits for this phone, and a `ferry receive` run again without a
// code tells it: both exit 0, and nothing was lost. Real processes over TCP on loopback, through a
// relay that hides the old phone's death until the new phone has said Verified (helpers/
// unseen-death-relay.ts): the link then ends under the stream, as quietly as a hang-up would.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, exportStore, inspect, killAll, LOOPBACK, newStorePath, NO_MDNS, seedStore, senderReady,
  spawnFerry, startReceiver, startSender, tcpPort
} from './helpers/ferry-cli.js'
import { UnseenDeathRelay } from './helpers/unseen-death-relay.js'

const CODE = '271-8281-8284'

describe('ferry receive when the old phone did not hear Verified', () => {
  let source: string
  let sourceExport: string

  beforeAll(async () => {
    source = await seedStore('tiny')
    sourceExport = await exportStore(source)
  }, 120_000)
  const relays: UnseenDeathRelay[] = []
  afterEach(async () => {
    await killAll()
    await Promise.all(relays.splice(0).map(async r => { await r.close() }))
  })
  afterAll(() => cleanupTempDirs())

  it('ends verified and unheard, and a run without a code tells the restarted ferry send', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    const relay = await UnseenDeathRelay.start(tcpPort(ready.addr))
    relays.push(relay)
    // Held once everything is in, before the read-back: the old phone has sent all and heard nothing.
    // --timeout 5: the dead old phone is given up on after 5 s of failed dials rather than 20.
    const receiver = startReceiver(target, { code: CODE, peer: relay.addr(ready.peerId), extra: ['--timeout', '5'], env: { FERRY_TEST_HOLD_VERIFYING: '1' } })
    const verifying = await receiver.waitEvent('verifying', 60_000)
    relay.hideDeath = true
    expect((await sender.kill9()).signal).toBe('SIGKILL')
    await relay.deathHidden()
    relay.hideDeath = false
    expect(sender.all('verified'), 'the old phone never heard Verified').toEqual([])
    // Released, the new phone verifies and says so into the link, which then ends.
    relay.endOnNextWord()
    receiver.child.kill('SIGUSR2')

    expect((await receiver.waitExit(60_000)).code, receiver.describe()).toBe(0)
    const untold = await receiver.waitEvent('verified')
    expect(untold.unheard, 'verified, and the old phone did not hear it (the link that ended was no hang-up)').toBe(true)
    expect(untold.progress).toMatchObject({ messages: verifying.messages, totalMessages: verifying.messages })
    expect(receiver.stderr).toContain('Everything arrived and is verified here, but the old phone did not hear so')
    // The line to run names the options this run needed (loopback, no mDNS), not the code.
    expect(receiver.stderr).toContain(`run ferry receive --store ${target} ${NO_MDNS} --json --listen ${LOOPBACK} --peer ${relay.addr(ready.peerId)} --timeout 5 here (no code needed) to tell it`)
    expect((await inspect(target)).pairing, 'the pairing is kept to tell the old phone').toMatchObject({ role: 'receiver', peer: ready.peerId })

    // The old phone, started again on the same folder and port without a code, resumes its pairing and
    // waits. The relay stays where the new phone found it, and relays to that port again.
    const newPhone = sender.all('paired')[0]?.peer
    expect(newPhone).toBeDefined()
    const again = startSender(store, { name: 'sender again', listen: `/ip4/127.0.0.1/tcp/${tcpPort(ready.addr)}` })
    expect((await again.waitEvent('resuming')).peer).toBe(newPhone)
    // Run again without a code (as a person would, without --json), the new phone only tells it.
    const teller = spawnFerry(['receive', '--store', target, NO_MDNS, '--no-sweep', '--listen', LOOPBACK], { name: 'receiver again' })
    expect((await teller.waitExit(60_000)).code, teller.describe()).toBe(0)
    expect(teller.stderr).toContain('is verified here, and the old phone may not have heard so: telling it')
    expect(teller.stderr).toContain('The old phone no longer waits for this one')
    expect(teller.stderr).not.toContain('did not hear so (its ferry send')
    expect((await again.waitExit(60_000)).code, again.describe()).toBe(0)
    const heard = await again.waitEvent('verified')
    expect(heard.progress).toMatchObject({ messages: verifying.messages, totalMessages: verifying.messages })

    // Both phones are done with the pairing, and the new phone holds the whole history.
    expect((await inspect(target)).pairing).toBeUndefined()
    expect((await inspect(store)).pairing).toBeUndefined()
    const received = await exportStore(target)
    expect(received.length).toBe(sourceExport.length)
    expect(received === sourceExport, 'the new phone\'s export differs from the old phone\'s').toBe(true)
  }, 120_000)
})
