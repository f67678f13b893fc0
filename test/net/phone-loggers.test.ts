import { enable } from '@libp2p/logger'
import { describe, expect, it } from 'vitest'
import { loggedPhones } from '../helpers/logged-phones.js'
import { generateCode } from '../../src/pairing/index.js'
import { fillStore, putWithPlaces } from '../helpers/stores.js'

// An app that runs two phones in one process gives each node a logger of its own (libp2p's
// `prefixLogger`), as libp2p's own modules expect: Ferry's lines for a transfer go through the node's
// logger (and so do the lines of the store createFerry opens), so each carries the prefix of the phone that wrote it and the two can be told apart.

const listen = ['/ip4/127.0.0.1/tcp/0']

/** The lines Ferry's transfer parts write, by namespace: what a person following one phone filters on. */
const TRANSFER_PARTS = /^(?:(\w+):)?(ferry:(?:service|sender|receiver|slots|store))$/

describe('two phones in one process, each with its own logger', () => {
  const { phone, captureStderr, stopCapture } = loggedPhones(listen)

  it('writes each phone\'s transfer lines under that phone\'s prefix, and none without one', async () => {
    // Unprefixed ferry:* is on too: a line that went around the node's logger would show there.
    enable('old:ferry:*,new:ferry:*,ferry:*')
    const lines = captureStderr()
    const old = await phone('old')
    const fresh = await phone('new')
    await fillStore(old.store, { conversations: 2, messagesPerConversation: 10, mediaSizes: [] })

    let code = generateCode()
    let sent = old.send({ code })
    await fresh.receive({ addrs: old.addresses(), code })
    await sent
    // A second transfer plans what the new phone already holds (the receiver's reconciliation).
    putWithPlaces(old.store, [{ conversation: 'c0', id: 'later', sender: 'me', ts: 1_900_000_000_000, kind: 'text', text: 'one more' }])
    code = generateCode()
    sent = old.send({ code })
    const again = await fresh.receive({ addrs: old.addresses(), code })
    await sent
    stopCapture()
    expect(again.stats.messagesSent).toBe(1)

    const written = lines.map(l => l.replace(/\x1b\[[0-9;]*m/g, ''))
      .map(l => ({ line: l, ns: l.split(/\s+/).find(t => TRANSFER_PARTS.test(t)) }))
      .filter((l): l is { line: string, ns: string } => l.ns !== undefined)
    const namespaces = new Set(written.map(l => l.ns))
    expect([...namespaces].filter(ns => TRANSFER_PARTS.exec(ns)?.[1] === undefined), 'lines with no phone\'s prefix').toEqual([])
    // Each phone's lines are its role's: the old phone sends, the new one receives.
    expect(namespaces).toContain('old:ferry:service')
    expect(namespaces).toContain('old:ferry:sender')
    expect(namespaces).toContain('new:ferry:service')
    expect(namespaces).toContain('new:ferry:receiver')
    expect(namespaces).not.toContain('new:ferry:sender')
    expect(namespaces).not.toContain('old:ferry:receiver')
    expect(written.filter(l => l.ns === 'new:ferry:receiver' && / plan of c0: /.test(l.line)), 'the receiver\'s plan').not.toHaveLength(0)
    // The store createFerry opened writes under its phone's prefix too: the first transfer loads an empty history.
    expect(written.filter(l => l.ns === 'new:ferry:store' && / loading into an empty history/.test(l.line)), 'the new phone\'s store').not.toHaveLength(0)
    expect(written.filter(l => l.ns === 'old:ferry:service' && / paired with /.test(l.line))).not.toHaveLength(0)
    expect(written.filter(l => l.ns === 'new:ferry:service' && / verified, from /.test(l.line))).toHaveLength(2)
  })
})
