// Clearing libp2p's address timer at stop reaches into its components; a libp2p that changed must not
// turn an app's stop() into a crash. (The timer's effect on a real node: service-lifecycle.test.ts.)
import { TypedEventEmitter, type Libp2p } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { clearAddressWriteOnStop } from '../../src/net/address-write-timer.js'

describe('clearing the address timer at stop', () => {
  it('a libp2p whose components throw for the address manager stops without an error reaching the app', async () => {
    const node = new TypedEventEmitter<{ stop: unknown }>()
    let asked = 0
    // libp2p's components are a Proxy that throws for a component it does not have.
    Object.defineProperty(node, 'components', {
      get: () => new Proxy({}, { get: () => { asked++; throw new Error('MissingServiceError: addressManager') } })
    })
    const uncaught: unknown[] = []
    const onUncaught = (err: unknown): void => { uncaught.push(err) }
    process.on('uncaughtException', onUncaught)
    try {
      clearAddressWriteOnStop(node as unknown as Libp2p)
      node.safeDispatchEvent('stop', { detail: node })
      // An error thrown in a listener is rethrown on the next tick: wait past it.
      await new Promise<void>(resolve => setImmediate(resolve))
    } finally {
      process.off('uncaughtException', onUncaught)
    }
    expect(asked).toBe(1)
    expect(uncaught).toEqual([])
  })
})
