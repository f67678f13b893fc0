// The new phone learns it paired when the handshake ends; the old phone then still has to make the
// code's use durable and record the pairing. A new phone that opens its transfer at once (as `ferry
// receive` does) must be served, not told NOT_PAIRED, however slow the old phone's disk is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Journal } from '../../src/journal/journal.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { ferry } from '../../src/net/ferry-service.js'
import { createFerryNode } from '../../src/net/node.js'
import { parseCode } from '../../src/pairing/index.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, copyStore, seedStore } from './helpers/ferry-cli.js'
import { haul, pairByHand } from './helpers/hostile-receiver.js'
import { rawNode } from './helpers/raw-peer.js'

const CODE = '617-2201-4410'

/** The journal of a phone whose disk takes `ms` to write what follows a pairing (the code's use, the record). */
function slowJournal (journal: NodeJournal, ms: number): Journal {
  const afterPairing = (ops: Parameters<Journal['write']>[0]): boolean =>
    ops.some(op => 'key' in op && (op.key.startsWith('pairing') || new TextDecoder().decode(op.value ?? new Uint8Array()).includes('"used":true')))
  return new Proxy(journal, {
    get (target, key, receiver) {
      if (key === 'write') {
        return async (...args: Parameters<Journal['write']>) => {
          if (afterPairing(args[0])) await new Promise(resolve => setTimeout(resolve, ms))
          await target.write(...args)
        }
      }
      const v = Reflect.get(target, key, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}

let source: string
beforeAll(async () => { source = await seedStore('tiny') }, 60_000)
afterAll(() => cleanupTempDirs())

describe('a transfer opened the moment pairing ends', () => {
  it('is served once the old phone has recorded the pairing, on a slow disk too', async () => {
    const dir = copyStore(source)
    const store = SqliteChatStore.open(dir)
    const journal = NodeJournal.open(dir)
    const node = await createFerryNode({ dir, listen: ['/ip4/127.0.0.1/tcp/0'], services: { ferry: ferry({ history: store, journal: slowJournal(journal, 300) }) } })
    const stop = new AbortController()
    const offered = node.services.ferry.offer({ code: parseCode(CODE), signal: stop.signal }).catch((err: Error) => err)
    const phone = await rawNode()
    try {
      const addr = node.getMultiaddrs()[0].toString()
      await pairByHand(phone, addr, node.peerId.toString(), CODE)
      const got = await haul(phone, addr)
      expect(got.error).toBeUndefined()
      expect(got.ended).toBeUndefined()
      expect(got.manifest.length).toBeGreaterThan(0)
      expect(got.messages.length).toBe(300)
    } finally {
      stop.abort()
      await offered
      await phone.stop()
      await node.stop()
      await journal.close()
      store.close()
    }
  })
})
