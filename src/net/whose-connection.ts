import type { ServiceMap } from '@libp2p/interface'
import type { ServiceFactoryMap } from 'libp2p'

// Whose business a connection is. On a node Ferry made (createFerryNode, createFerry, the browser
// phone) every connection is: nothing else runs there. On an app's own node (`ferry()` in the app's
// `createLibp2p`) the app's peers connect for the app's protocols, and Ferry must neither judge nor
// close those connections: only the app knows who may hold them.

/** Told to a Ferry service as it is made inside a node Ferry made. */
export const FERRY_OWNS_NODE: unique symbol = Symbol.for('chat-ferry.owns-node')

/** A service that behaves otherwise on a node Ferry made (FerryService). */
export interface OwnedNodeAware {
  [FERRY_OWNS_NODE]: () => void
}

/** `services`, each made knowing that the node is Ferry's own. */
export function ferryOwned<S extends ServiceMap> (services: ServiceFactoryMap<S>): ServiceFactoryMap<S> {
  const owned: Record<string, (components: any) => unknown> = {}
  for (const [name, make] of Object.entries(services as Record<string, (components: any) => unknown>)) {
    owned[name] = components => {
      const service = make(components)
      if (typeof (service as Partial<OwnedNodeAware> | undefined)?.[FERRY_OWNS_NODE] === 'function') (service as OwnedNodeAware)[FERRY_OWNS_NODE]()
      return service
    }
  }
  return owned as ServiceFactoryMap<S>
}

/**
 * libp2p's own upkeep on every connection (identify, its push, ping), whatever the app: a connection
 * that carries only these and Ferry's streams carries nothing of the app's. Any prefix libp2p is
 * configured with.
 */
const UPKEEP = /^\/[^/]+\/(?:id|id\/push|ping)\/\d+\.\d+\.\d+$/

/** Ferry's protocols: /ferry/pair/..., /ferry/transfer/... */
const FERRY = /^\/ferry\//

/** Whether `conn` carries one of the app's own streams now (a stream on a protocol neither Ferry's nor libp2p's upkeep). */
export function carriesAppStreams (conn: { streams?: ReadonlyArray<{ protocol?: string }> }): boolean {
  return (conn.streams ?? []).some(s => s.protocol !== undefined && s.protocol !== '' && !FERRY.test(s.protocol) && !UPKEEP.test(s.protocol))
}
