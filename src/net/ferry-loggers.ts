import type { ComponentLogger, Logger } from '@libp2p/interface'

/**
 * The service's loggers, made once from the node's `ComponentLogger` as a js-libp2p service makes its
 * own: each offer, receive and session writes through these rather than asking the node for a new
 * logger every time one starts.
 */
export interface FerryLoggers {
  /** `ferry:service`: pairings, sessions, verification, an app's failed handler. */
  service: Logger
  /** `ferry:sender`: the sender machine of each offer's sessions. */
  sender: Logger
  /** `ferry:receiver`: the receiver machine of each receive's sessions. */
  receiver: Logger
  /** `ferry:slots`: who may hold a connection. */
  slots: Logger
}

export function ferryLoggers (logger: ComponentLogger): FerryLoggers {
  return {
    service: logger.forComponent('ferry:service'),
    sender: logger.forComponent('ferry:sender'),
    receiver: logger.forComponent('ferry:receiver'),
    slots: logger.forComponent('ferry:slots')
  }
}
