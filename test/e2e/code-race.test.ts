// Two phones hold the code and both begin pairing; the one whose confirmation reaches the old phone
// second loses: a code pairs one phone. A real `ferry receive` that loses must say so, plainly, as part
// of pairing: not call itself paired and then fail on NOT_PAIRED when it asks for the history.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Journal } from '../../src/journal/journal.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { ferry } from '../../src/net/ferry-service.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import { createFerryNode } from '../../src/net/node.js'
import { parseCode } from '../../src/pairing/index.js'
import { MsgType } from '../../src/pairing/messages.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, copyStore, errorCode, inspect, killAll, newStorePath, seedStore, startReceiver } from './helpers/ferry-cli.js'
import { beginPairing, rawNode } from './helpers/raw-peer.js'

const CODE = '618-0339-8874'

/**
 * The old phone's journal, with a gate: once armed, the write that charges the code's second attempt
 * waits until let go. The old phone answers an attempt only once its charge is on disk, so the phone
 * making that attempt waits there, before it can confirm, for as long as the test wants.
 */
function gatedJournal (journal: NodeJournal): { journal: Journal, arm: () => { reached: Promise<void>, letGo: () => void } } {
  let gate: { reach: () => void, held: Promise<void> } | undefined
  const second = (ops: Parameters<Journal['write']>[0]): boolean =>
    ops.some(op => 'key' in op && op.key.startsWith('code/') && new TextDecoder().decode(op.value ?? new Uint8Array()).includes('"charged":2'))
  const gated = new Proxy(journal, {
    get (target, key, receiver) {
      if (key === 'write') {
        return async (...args: Parameters<Journal['write']>) => {
          const g = gate
          if (g !== undefined && second(args[0])) {
            gate = undefined
            g.reach()
            await g.held
          }
          await target.write(...args)
        }
      }
      const v = Reflect.get(target, key, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
  return {
    journal: gated,
    arm: () => {
      let reach!: () => void
      let letGo!: () => void
      const reached = new Promise<void>(resolve => { reach = resolve })
      const held = new Promise<void>(resolve => { letGo = resolve })
      gate = { reach, held }
      return { reached, letGo }
    }
  }
}

let source: string
beforeAll(async () => { source = await seedStore('tiny') }, 60_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

describe('a phone that another phone beat to the code', () => {
  it('ferry receive is told at pairing that the code already paired another phone, exits 1 with CODE_EXPIRED, and keeps no pairing', async () => {
    const dir = copyStore(source)
    const store = SqliteChatStore.open(dir)
    const disk = NodeJournal.open(dir)
    const { journal, arm } = gatedJournal(disk)
    const node = await createFerryNode({ dir, listen: ['/ip4/127.0.0.1/tcp/0'], services: { ferry: ferry({ history: store, journal }) } })
    const stop = new AbortController()
    const events: FerryEvent[] = []
    const offered = node.services.ferry.offer({ code: parseCode(CODE), signal: stop.signal, onEvent: e => { events.push(e) } }).catch((err: Error) => err)
    const first = await rawNode()
    try {
      const addr = node.getMultiaddrs()[0].toString()
      // The first phone begins and holds its confirmation.
      const { s, step, hs } = await beginPairing(first, addr, node.peerId.toString(), parseCode(CODE))
      expect(step.error).toBeUndefined()

      // `ferry receive` begins too, and is held before it can confirm.
      const gate = arm()
      const target = newStorePath()
      const late = startReceiver(target, { code: CODE, peer: addr, name: 'receiver (second to confirm)' })
      await gate.reached

      // The first phone confirms: it is paired, and the code is used.
      await s.write(step.send)
      const verdict = await s.next()
      expect(verdict?.[1]).toBe(MsgType.PAIRED)
      expect(hs.onMessage(verdict!).result).toBeDefined()
      gate.letGo()

      expect((await late.waitExit(30_000)).code, late.describe()).toBe(1)
      expect(errorCode(late.stderr), late.describe()).toBe('CODE_EXPIRED')
      expect(late.stderr).toMatch(/^ferry: pairing: this code has already paired another phone; ask for a new code \(if that phone is not yours, stop the transfer on the old phone\) \[CODE_EXPIRED\]$/m)
      // It never called itself paired, and holds no pairing that would have it come back to resume.
      expect(late.all('paired')).toEqual([])
      expect(late.events.at(-1)).toMatchObject({ event: 'error', code: 'CODE_EXPIRED' })
      expect((await inspect(target)).pairing).toBeUndefined()
      // The old phone paired the first phone only.
      expect(events.filter(e => e.type === 'paired').map(e => e.type === 'paired' ? e.peer : '')).toEqual([first.peerId.toString()])
      // Its user, moving the history to the first phone, is told what happened, not to make a new code.
      expect(events.filter(e => e.type === 'pair-failed').map(e => e.type === 'pair-failed' ? [e.error.code, e.error.message] : []))
        .toEqual([['CODE_EXPIRED', 'pairing: this code already paired a phone, and pairs no other']])
    } finally {
      stop.abort()
      await offered
      await first.stop()
      await node.stop()
      await disk.close()
      store.close()
    }
  })
})
