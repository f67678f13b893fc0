// Which address the receiver redials after a link died (the Wi-Fi chaos found a sender that moved took
// ~12 s to resume: libp2p dials a peer's known addresses one at a time, the dead one first, 6 s each).
// A fake libp2p underneath the real FerryService records the dials.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Connection, PeerId } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { afterAll, describe, expect, it } from 'vitest'
import { FerryService } from '../../src/net/ferry-service.js'
import { ErrorCode, FerryError } from '../../src/errors.js'
import { cleanupTempDirs, openStore, tempDir } from '../helpers/stores.js'

const peerOf = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

describe('redialling after a dead link', () => {
  afterAll(() => { cleanupTempDirs() })

  it('tries the other phone\'s other known addresses before the one whose link just died', async () => {
    const [self, sender] = await Promise.all([peerOf(), peerOf()])
    const old = multiaddr(`/ip4/10.1.2.11/tcp/4101/p2p/${sender.toString()}`)
    const moved = multiaddr('/ip4/10.1.2.99/tcp/4101')
    const dials: string[] = []
    let n = 0
    const connection = (remoteAddr: Multiaddr, fail: FerryError): Connection => ({
      remotePeer: sender,
      remoteAddr,
      newStream: async () => { throw fail },
      abort: () => {}
    }) as unknown as Connection
    const dir = tempDir()
    const store = openStore(dir)
    const service = new FerryService({
      peerId: self,
      registrar: { handle: async () => {}, unhandle: async () => {} },
      logger: defaultLogger(),
      // mDNS has since told the peer store where the sender is now.
      peerStore: { get: async () => ({ addresses: [{ multiaddr: old }, { multiaddr: moved }] }) },
      connectionManager: {
        openConnection: async target => {
          dials.push(Array.isArray(target) ? target.map(String).join(',') : String(target))
          // First session: the link dies (retryable). Second: end the test with a refusal.
          return n++ === 0
            ? connection(old, new FerryError(ErrorCode.TRUNCATED, 'the link died'))
            : connection(moved, new FerryError(ErrorCode.BAD_INPUT, 'enough'))
        }
      }
    }, { history: store, journal: NodeJournal.open(dir) })
    await expect(service.receive({ addrs: [old], retryForMs: 10_000 })).rejects.toMatchObject({ code: ErrorCode.BAD_INPUT })
    store.close()
    expect(dials[0]).toBe(old.toString())
    // The redial goes to where the sender is now, not to the address that just failed.
    expect(dials[1]).toBe(`${moved.toString()}/p2p/${sender.toString()}`)
  })
})
