import type { ConnectionEncrypter, MessageStream, SecuredConnection } from '@libp2p/interface'

/** What a wrapped encrypter lets see: each raw connection before it is secured, each secured one after. */
export interface SecuringHooks<X> {
  raw?: (connection: MessageStream) => void
  secured?: (secured: SecuredConnection<X>) => SecuredConnection<X>
}

/**
 * Wraps a connection encrypter's factory so `hooks` see every connection it secures, inbound or
 * outbound: the one place libp2p shows a connection in both directions before anything is sent on it.
 */
export function hookSecuring<C, X, E extends ConnectionEncrypter<X>> (make: (components: C) => E, hooks: SecuringHooks<X>): (components: C) => E {
  return components => {
    const encrypter = make(components)
    const inbound = encrypter.secureInbound.bind(encrypter)
    const outbound = encrypter.secureOutbound.bind(encrypter)
    const raw = hooks.raw ?? (() => {})
    const secured = hooks.secured ?? (s => s)
    encrypter.secureInbound = async (connection, options) => { raw(connection); return secured(await inbound(connection, options)) }
    encrypter.secureOutbound = async (connection, options) => { raw(connection); return secured(await outbound(connection, options)) }
    return encrypter
  }
}
