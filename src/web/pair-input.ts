import { multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { formatCode, parseCode, parseQrPayload, qrDialAddrs, qrKeyFor, type PairingCode } from '../pairing/index.js'

// What a person gives the page (a ferry://pair payload, or an address and a typed code) and what the
// page tells them when something fails. No DOM: unit-tested in Node.

export interface PairInput { addr: string, code: string }

/** The old phone's addresses and the code, from the form: a ferry://pair payload, or addresses plus a typed code. */
export function parseInput (input: PairInput): { addrs: string[], code: PairingCode, qrKey?: Uint8Array } {
  let addrs: string[] = []
  let code: PairingCode | undefined
  let qr: ReturnType<typeof parseQrPayload> | undefined
  if (input.addr.toLowerCase().startsWith('ferry://pair?')) {
    qr = parseQrPayload(input.addr)
    addrs = qrDialAddrs(qr)
    code = qr.code
  } else if (input.addr !== '') {
    addrs = input.addr.split(/[\s,]+/).filter(a => a !== '')
    for (const a of addrs) {
      try {
        multiaddr(a)
      } catch {
        throw new FerryError(ErrorCode.BAD_INPUT, `"${a}" is not an address: paste the old phone's ferry://pair link or its /ip4/…/webrtc-direct/… address`)
      }
    }
  }
  // A typed code wins over the payload's: the person reads it off the old phone's screen.
  if (input.code !== '') code = parseCode(input.code)
  if (addrs.length === 0) throw new FerryError(ErrorCode.BAD_INPUT, 'Paste the old phone\'s ferry://pair link or its address first (ferry send --transport webrtc shows both).')
  if (!addrs.some(a => a.includes('/webrtc-direct'))) {
    throw new FerryError(ErrorCode.BAD_INPUT, 'A browser can only reach the old phone over WebRTC: start it with ferry send --transport webrtc (or auto) and use the webrtc-direct address it shows.')
  }
  if (code === undefined) throw new FerryError(ErrorCode.BAD_INPUT, 'Type the code the old phone shows, like 123-4567-8901.')
  // The QR code's key pairs outside the typed code's three guesses.
  const qrKey = qrKeyFor(qr, code)
  return { addrs: addrs.filter(a => a.includes('/webrtc-direct')), code: parseCode(formatCode(code)), ...(qrKey !== undefined ? { qrKey } : {}) }
}

/** What the page knows of the attempt that failed, which changes what a person can do about it. */
export interface FailureContext {
  /**
   * This browser keeps a pairing with the old phone (it paired, or was resuming): started again, that
   * phone takes this browser back without a code, and what arrived here stays.
   */
  resumable?: boolean
  /** The attempt carried the QR code's key (the link or a pasted payload), not only a typed code. */
  qr?: boolean
  /** The person typed the code (it was not only the link's). */
  typed?: boolean
}

/**
 * Codes of a transfer the old phone's own data ended: what it sent breaks the protocol or contradicts
 * itself. A genuine Ferry does not send that, so the person is told what stays and what it may mean;
 * the details are the log's (ferry:web), not theirs.
 */
const SENDER_BROKE: ReadonlySet<string> = new Set([ErrorCode.ORDER, ErrorCode.SIZE_MISMATCH, ErrorCode.COUNT_MISMATCH,
  ErrorCode.MALFORMED_FRAME, ErrorCode.FRAME_TOO_LARGE, ErrorCode.PROTOCOL, ErrorCode.SELECTION])

/** A browser without RTCPeerConnection: it cannot reach the old phone at all, whatever that phone does. */
const NO_WEBRTC = 'This browser cannot reach the old phone: WebRTC is turned off or not supported here, and the browser phone needs it. ' +
  'Open this page in another browser (a current Chrome, Firefox or Safari with WebRTC on), or receive on a computer with ferry receive.'

/** IndexedDB missing (a private window) or refused (site storage blocked): the page has nowhere to put a history. */
const NO_STORAGE = 'This browser does not let the page store data here (a private window, or storage blocked for this site), so it cannot receive a history. ' +
  'Allow storage for this site, or open the page in a normal window.'
/** A tab that lost its lease on the store to another tab (tab-lock.ts): that tab receives now. */
const TAKEN_OVER = 'Another tab of this browser took over receiving the history, so this tab stopped and writes nothing more. ' +
  'Nothing that arrived is lost: follow the transfer in the other tab, and reload this one once it is done to see the history here.'

/** What went wrong, for a person. */
export function explain (err: unknown, context: FailureContext = {}): string {
  if (!isFerryError(err)) return `Something went wrong: ${String((err as Error)?.message ?? err)}`
  // Only phones refusing the code unchecked, or cutting the pairing, answered it (net/look-past.ts): the
  // digits were never tested, and the QR code, which names the old phone, pairs past them.
  if (err.details?.unproved === true && (err.details.setAside !== undefined || err.details.cut === true)) {
    return `The transfer stopped: ${err.message}. Scanning the old phone's QR code, which names it, pairs all the same. [${err.code}]`
  }
  // A mismatch in a message this browser itself changed meanwhile is not the old phone's doing.
  if (SENDER_BROKE.has(err.code) && err.details?.changedHere === undefined) {
    return 'The old phone sent something this browser cannot accept, and the transfer stopped; what was verified before stays in this browser. ' +
      'Try again; if it happens again, the old phone\'s Ferry may be damaged or not genuine.'
  }
  switch (err.code) {
    case ErrorCode.WRONG_CODE: {
      // Only the link's code and key were tried, and they are not the old phone's now: it was started
      // again since the link was made, with a new code. The QR key's attempt counts no try of a code.
      if (context.qr === true && context.typed !== true && err.details?.linkDropped !== true) {
        return 'This link is from an earlier ferry send: the old phone was started again since, and shows a new code now. Scan its new QR code, or type the code it shows.'
      }
      // This browser's own count of the code's tries (journal/tried-codes.ts), when the service gave it.
      const left = err.details?.triesLeft
      if (err.details?.linkDropped === true && typeof left === 'number') {
        // The try was spent as the link went (net/pair-stream.ts): the person did not see a wrong code, but
        // the old phone had not proved the code typed either, so a mistyped one would spend another try.
        return 'The link to the old phone dropped while the phones were checking the code, and that counted as one try of it. ' + (left > 0
          ? `${left === 1 ? 'One try' : `${left} tries`} of this code left here: check its digits against the old phone's and try again, or scan the old phone's QR code, which is not counted.`
          : 'This code cannot be typed here again: ask for a new one, or scan the old phone\'s QR code, which is not counted.')
      }
      const tries = typeof left !== 'number'
        ? 'After three wrong tries typing no longer pairs'
        : left > 0 ? `${left === 1 ? 'One try' : `${left} tries`} of this code left here; after that typing no longer pairs` : 'This code cannot be typed here again: ask for a new one'
      return `Wrong code: that is not the code the old phone shows. Check it and try again. ${tries}, but scanning the old phone's QR code still does.`
    }
    case ErrorCode.CODE_EXPIRED:
      // Refused at its confirmation: this browser lost the code to another phone (handshake.ts).
      if (err.details?.state === 'used') return 'This code has already paired another phone. Ask for a new code: start ferry send again on the old phone (if that phone is not yours, stop its transfer there).'
      // This browser's own count (journal/tried-codes.ts): the old phone may never have seen these tries.
      if (err.details?.state === 'tried') return 'This browser tried this code three times without pairing, so it will not try it again: someone nearby may be posing as the old phone, or the code was mistyped. Scan the QR code the old phone shows (it cannot be mistyped), or start ferry send there again for a new code.'
      return context.qr === true
        ? 'The old phone\'s code is no longer valid: another phone used it, or it is more than ten minutes old. Start ferry send there again for a new one.'
        // Three wrong tries end typing, not the QR code: the person is sent to the one thing that still
        // works first, not away from it.
        : 'Typing this code no longer pairs: it was tried three times, or used, or it is more than ten minutes old. Scan the QR code the old phone shows (after wrong tries it still pairs), or start ferry send there again for a new code.'
    case ErrorCode.NO_PEER:
      if (err.details?.reason === 'no-webrtc') return NO_WEBRTC
      if (err.details?.notOffering === true) return 'The old phone is on the network but is not offering its history. Start ferry send there (with --web or --transport webrtc), then try again.'
      return context.resumable === true
      ? 'The old phone stopped answering. What arrived is kept in this browser: start ferry send on the old phone again (no new code is needed), then reload this page to carry on.'
      // What libp2p said of each address is for the logs (ferry:web): here it would only bury the question.
      : 'Cannot reach the old phone. Is ferry send still running there, with --web or --transport webrtc, and is this device on the same network?'
    case ErrorCode.CANCELLED:
      if (err.details?.from === 'sender') {
        return context.resumable === true
          // The pairing is kept on both phones: the old phone offering again takes this browser back.
          ? 'The old phone stopped sending. What arrived is kept in this browser: start ferry send on the old phone again (no new code is needed), then reload this page to carry on.'
          : 'The old phone cancelled the transfer. Start ferry send there again for a new code, then receive it here.'
      }
      return `The transfer stopped: ${err.message} [${err.code}]`
    case ErrorCode.NOT_PAIRED: return 'The old phone does not know this browser any more. Pair again with a new code.'
    case ErrorCode.STORE_FULL:
      return context.resumable === true
        ? 'This browser has no room left for the history (its storage quota). What arrived is kept in this browser: free space on this device, or let this site store more, then start ferry send on the old phone again (no new code is needed) and reload this page to carry on.'
        : 'This browser has no room left for the history (its storage quota): free space on this device, or let this site store more, then pair again.'
    case ErrorCode.STORE_BUSY:
      if (err.details?.reason === 'taken-over') return TAKEN_OVER
      return `The transfer stopped: ${err.message} [${err.code}]`
    case ErrorCode.STORE:
      if (err.details?.reason === 'no-storage') return NO_STORAGE
      return `The transfer stopped: ${err.message} [${err.code}]`
    case ErrorCode.BAD_INPUT: return err.message
    default: return `The transfer stopped: ${err.message} [${err.code}]`
  }
}

/** The old phone a ferry://pair payload names (its peer id), or undefined when it is not one. */
export function peerOfLink (payload: string): string | undefined {
  try {
    return parseQrPayload(payload).peerId
  } catch {
    return undefined
  }
}

/**
 * Whether a ferry://pair payload names the machine this page was loaded from (`hostname`, as
 * `location.hostname` gives it). With the page's mark of `ferry send --web`, the old phone served the
 * page itself and the link came from its QR code, so the page starts receiving at once. A page from
 * elsewhere (`ferry web`, a pasted link) waits for a click.
 */
export function servedBySender (payload: string, hostname: string): boolean {
  let addrs: string[]
  try {
    addrs = parseQrPayload(payload).addrs
  } catch {
    return false
  }
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (host === '') return false
  return addrs.some(a => {
    if (!a.includes('/webrtc-direct')) return false
    const ip = multiaddr(a).getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
    return ip?.toLowerCase() === host
  })
}
