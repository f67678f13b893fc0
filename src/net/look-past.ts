import type { Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { dialAddresses, firstPeerIdOf } from './addresses.js'
import { notOffering } from './pair-stream.js'
import type { EventBody } from './transfer-events.js'

// A typed code's first three digits are public (mDNS carries them), so anyone nearby can answer a new
// phone's search for them. A phone found so that refuses the code, cuts the pairing or cannot be
// reached before any try was charged proved nothing of the code: an honest old phone (its code expired,
// its link bad) does the same. And those digits have 1000 values: another transfer nearby may show the
// same ones, so a phone that checked the code and holds another is set aside too, within the code's
// tries. What one receive learnt of such phones, and where it looks next, in one place
// (src/pairing/README.md, "The receiver's budget", is the spec): each look is bounded by `lookOnMs`,
// and no find starts past the search's own time.

/**
 * How long a receive looks for another phone once one refused the code unchecked. An old phone whose
 * code did expire refuses the same way, and its person should hear so soon, not when the whole search
 * gives up; a phone on the LAN answers mDNS at once and the sweep's next round within seconds, so this
 * covers two of its rounds.
 */
const LOOK_ON_MS = 12_000
/**
 * How many times a phone found by the search may drop the link before any valid PAKE_B before
 * the receive looks for another phone showing the nameplate. An honest phone on a bad link pairs on a
 * retry or two; a neighbour that cuts every pairing would otherwise hold the receive until its time is
 * spent, the old phone beside it never tried.
 */
export const CUTS_BEFORE_LOOKING_ON = 3
/**
 * How long a receive looks for another phone once one checked the code and holds another. A mistyped
 * code reads the same, far more often than two transfers sharing the first digits, and its person waits
 * this long to hear "check the digits": one look by mDNS and one sweep round after the sweep's start.
 */
const MISMATCH_LOOK_MS = 6_000

/** What a receive gives the looking: its search, its addresses now, and its time. */
export interface Looking {
  search?: { find(again: { except: ReadonlySet<string>, signal?: AbortSignal }): Promise<{ addrs: Multiaddr[] }> }
  lookOnMs?: number
  signal?: AbortSignal
  addrs: Multiaddr[]
  code?: { nameplate: string }
}

/** One look for another phone showing the nameplate, past `except`, for `lookOnMs` (or `ms`, when shorter) at most. */
async function lookOn (opts: Looking, except: ReadonlySet<string>, ms = Infinity): Promise<{ addrs: Multiaddr[] }> {
  if (opts.search === undefined) throw new FerryError(ErrorCode.INTERNAL, 'a look on without a search')
  const time = AbortSignal.timeout(Math.min(opts.lookOnMs ?? LOOK_ON_MS, ms))
  return await opts.search.find({ except, signal: opts.signal !== undefined ? AbortSignal.any([opts.signal, time]) : time })
}

/** One receive's phones that proved nothing of the code, and the looks past them. */
export class LookPast {
  private readonly setAside = new Set<string>()
  private readonly cut = new CutPhones()
  // Phones the search found that could not be reached at all: looked past, as refusals are, but only
  // while the search looks on from them; a dial that failed once says nothing for good (the old
  // phone may have announced an address it has since left), so later looks may find them again.
  private readonly unreachable = new Set<string>()
  // Phones this receive ever connected to: one of them failing a dial is a dropped link, not a phone
  // nothing reaches.
  private readonly connected = new Set<string>()
  // Phones that checked the code and hold another (a try spent on each): never tried again in this
  // receive, so no phone hears more than one guess of it from one receive.
  private readonly mismatched = new Set<string>()
  /** The tries of the code left here after the last of them. */
  private triesLeft?: number

  /** `firstReplyMs`: the pairing's first-reply deadline, which cuts by one phone may not outlast. */
  constructor (private readonly firstReplyMs: number, private readonly log: Logger) {}

  /** The receive connected to `peer`. */
  reached (peer: PeerId): void {
    this.connected.add(peer.toString())
  }

  /**
   * After a failed attempt of `spentMs` with `peer` (undefined: it never connected): the addresses of
   * another phone to dial, or undefined, when the failure goes on as it would have. `goBack`: dial these
   * addresses next (a phone that cut, gone back to).
   */
  async after (err: unknown, peer: PeerId | undefined, spentMs: number, opts: Looking, emit: (e: EventBody) => void,
    goBack: (addrs: Multiaddr[]) => void): Promise<Multiaddr[] | undefined> {
    return await this.mismatch(err, peer, opts, emit) ??
      await this.refused(err, peer, opts, emit) ??
      await this.cutOff(err, peer, spentMs, opts, emit, goBack) ??
      await this.unreached(err, peer, opts, emit)
  }

  /** How the receive ends with `err`: said as cuts by phones none of which tested the code, when only such cuts spent its time. */
  ending (err: unknown, signal?: AbortSignal): unknown {
    if (this.cut.phones > 0 && isFerryError(err, ErrorCode.TRUNCATED) && err.details?.cut === true && signal?.aborted !== true) return cutUntilTheEnd(err, this.cut, this.spent())
    return err
  }

  /** The tries this receive spent on phones holding another code, and how many are left: undefined for none. */
  private spent (): Spent | undefined {
    return this.mismatched.size > 0 && this.triesLeft !== undefined ? { mismatched: this.mismatched.size, triesLeft: this.triesLeft } : undefined
  }

  /** Every phone this receive passes by for good: set aside, or holding another code. */
  private passedBy (): Set<string> {
    return new Set([...this.setAside, ...this.mismatched])
  }

  /** How many phones showing the nameplate this receive has dealt with: reached, set aside or cut. */
  private get showing (): number {
    return new Set([...this.connected, ...this.setAside, ...this.mismatched, ...this.cut.peers()]).size
  }

  /**
   * After a phone found by the search checked a typed code and holds another (WRONG_CODE once a try was
   * charged, `linkDropped` too: its tag did not prove the code): the code's first three digits have 1000
   * values, and another transfer nearby may show the same. While the code has tries left here, that
   * phone is set aside for this receive and the search looks, for up to MISMATCH_LOOK_MS, for another
   * phone showing them: the addresses of one it finds. Each phone hears one guess at most from one
   * receive, and the receive's count bounds them all, as across runs. When none shows up, or no try is
   * left, the wrong code ends the receive: as it was when this receive met one phone showing the digits
   * (a mistyped code, most often), else said as several phones showing them (`details.showing`,
   * `mismatched`). Undefined for any other failure, or with nothing to search (addresses given).
   */
  private async mismatch (err: unknown, peer: PeerId | undefined, opts: Looking, emit: (e: EventBody) => void): Promise<Multiaddr[] | undefined> {
    if (opts.search === undefined || peer === undefined || !isFerryError(err, ErrorCode.WRONG_CODE) || err.details?.unproved === true) return undefined
    const left = err.details?.triesLeft
    if (typeof left !== 'number') return undefined
    this.mismatched.add(peer.toString())
    this.triesLeft = left
    if (left === 0) throw this.wrongAmong(err, opts)
    const digits = opts.code?.nameplate !== undefined ? ` (${opts.code.nameplate})` : ''
    this.log('%s checked the code and holds another (%s): set aside, looking for another phone', peer, err.code)
    emit({
      type: 'interrupted',
      error: new FerryError(ErrorCode.WRONG_CODE, `the phone that answered ${err.details?.linkDropped === true ? 'did not show that it holds' : 'does not hold'} this code, ` +
        `and that counted as one try (${left} ${left === 1 ? 'try' : 'tries'} of it left here): the digits may be mistyped, or it is another transfer's phone ` +
        `showing the same first three digits${digits}, so the search looks for another phone showing them...`,
      { ...err.details, mismatched: this.mismatched.size }, { cause: err })
    })
    try {
      const found = await lookOn(opts, this.passedBy(), MISMATCH_LOOK_MS)
      return dialAddresses(found.addrs)
    } catch (searchErr) {
      if (opts.signal?.aborted === true) throw searchErr
      this.log('no other phone shows the nameplate: %s', (searchErr as Error)?.message)
      throw this.wrongAmong(err, opts)
    }
  }

  /**
   * The wrong code that ends a receive: as heard when this receive met one phone showing the code's first
   * digits; else saying how many did, and that the one that answered may be another transfer's (checking
   * the digits does not tell them apart; a QR code or address naming the old phone does, the app's to offer).
   */
  private wrongAmong (err: FerryError, opts: Looking): FerryError {
    const showing = this.showing
    if (showing < 2) return err
    const left = err.details?.triesLeft
    const digits = opts.code?.nameplate !== undefined ? `codes starting ${opts.code.nameplate}` : 'codes with the same first three digits'
    const many = this.mismatched.size
    const tries = typeof left !== 'number'
      ? ''
      : left === 0 ? '; no tries of this code are left on this phone' : `; ${left} ${left === 1 ? 'try' : 'tries'} of this code left on this phone`
    return new FerryError(ErrorCode.WRONG_CODE,
      `pairing: ${showing} phones nearby show ${digits}, and ` + (many === 1
        ? 'the one that checked this code holds another: it may be another transfer\'s phone, not the old phone'
        : `none of the ${many} that checked this code holds it: the digits may be mistyped, or the old phone is not among them`) + tries,
      { ...err.details, showing, mismatched: many }, { cause: err })
  }

  /**
   * After a phone found by the search refused a typed code before checking it: sets that phone aside and
   * looks for another showing the nameplate, whose addresses it gives. Undefined for any other failure,
   * or with nothing to search (addresses given). When the search finds no other, the refusal heard ends
   * the receive, said as one no phone proved.
   */
  private async refused (err: unknown, peer: PeerId | undefined, opts: Looking, emit: (e: EventBody) => void): Promise<Multiaddr[] | undefined> {
    const setAside = this.setAside
    if (opts.search === undefined || peer === undefined || !isFerryError(err) || err.details?.unproved !== true || err.details?.cut === true) return undefined
    setAside.add(peer.toString())
    const said = err.message.replace(/^pairing: /, '')
    this.log('%s refused the code before checking it (%s): set aside, looking for another phone', peer, err.code)
    emit({
      type: 'interrupted',
      error: new FerryError(err.code, `a phone showing this code's first three digits refused the code before checking it (it said: ${said}); ` +
        'it proved nothing of the code, so the search goes on for the old phone...', { ...err.details, setAside: setAside.size }, { cause: err })
    })
    let found: { addrs: Multiaddr[] }
    try {
      found = await lookOn(opts, this.passedBy())
    } catch (searchErr) {
      if (opts.signal?.aborted === true) throw searchErr
      this.log('no other phone shows the nameplate: %s', (searchErr as Error)?.message)
      throw unprovedRefusal(err, said, setAside.size, this.spent())
    }
    // Not progress: the time to retry a dropped link runs on. A neighbour with fresh peer ids could
    // refuse until the search's time is spent and then cut, and each refusal would start that time over.
    return dialAddresses(found.addrs)
  }

  /**
   * After a phone found by the search dropped the link before any valid PAKE_B (`details.cut`: no try
   * charged, nothing of the code tested): the same phone is retried as after any dropped link, and once
   * it has cut CUTS_BEFORE_LOOKING_ON times, or its cut attempts took the first-reply deadline together
   * (a phone can hang up just before it, each time), the search looks, for up to `lookOnMs`, for another
   * phone showing the nameplate, past every phone set aside or cut: the addresses of one it finds. When it
   * finds none, the receive goes back (`goBack`) to the phone cut least, never one set aside (it checked
   * the code and holds another: asked again, it would hear a second guess), which may be the old phone on a
   * bad link, and throws a TRUNCATED saying so, for the retry to try it after its pause and within its
   * time. Undefined (retried as before) for any other failure, a cut before either is reached, or with
   * nothing to search.
   */
  private async cutOff (err: unknown, peer: PeerId | undefined, spentMs: number, opts: Looking, emit: (e: EventBody) => void,
    goBack: (addrs: Multiaddr[]) => void): Promise<Multiaddr[] | undefined> {
    const cut = this.cut
    if (opts.search === undefined || peer === undefined || !(isFerryError(err, ErrorCode.TRUNCATED) || notOffering(err)) || err.details?.cut !== true) return undefined
    // A stall took the first-reply deadline: the receive's time allows few of them, so one is enough;
    // cuts that together took as long (each hung up just before the deadline) are as costly.
    const stalled = err.details?.timedOut === true
    const { cuts, due } = cut.add(peer.toString(), opts.addrs, spentMs, this.firstReplyMs)
    if (!due && !stalled) return undefined
    const times = cuts === 1 ? 'once' : `${cuts} times`
    const did = stalled ? 'stopped answering' : notOffering(err) ? `said it offers no transfer (yet) ${times}` : `dropped the link ${times}`
    this.log('%s %s before any PAKE_B: looking for another phone meanwhile', peer, did)
    emit({
      type: 'interrupted',
      error: new FerryError(ErrorCode.TRUNCATED, `a phone showing this code's first three digits ${did} before the phones could check the code; ` +
        'no try was spent, and the search looks for another phone showing them (if none shows up, that phone is tried again: it may be the old phone on a bad link)...',
      { ...err.details, unproved: true, cuts }, { cause: err })
    })
    try {
      const except = new Set([...this.passedBy(), ...cut.peers()])
      const found = await lookOn(opts, except)
      return dialAddresses(found.addrs)
    } catch (searchErr) {
      if (opts.signal?.aborted === true) throw searchErr
      this.log('no other phone shows the nameplate: %s', (searchErr as Error)?.message)
    }
    const back = cut.leastCut(this.passedBy())
    if (back !== undefined) goBack(back.addrs)
    throw new FerryError(ErrorCode.TRUNCATED, `no other phone showing this code's first three digits answered: trying ${cut.phones === 1 ? 'the one that dropped the link' : 'the phones that dropped the link'} again...`,
      { ...err.details, unproved: true, cuts: cut.total }, { cause: err })
  }

  /**
   * After a phone found by the search for a typed code could not be reached at all (its dial failed:
   * NO_PEER, or ISOLATED when every address was silent), and never connected in this receive: the code's
   * first digits are public, and a neighbour can announce addresses that drop or refuse every packet. That
   * phone is set aside (`interrupted` says so, with the dial's own diagnosis, at once) and the search looks
   * for another phone showing the nameplate for up to `lookOnMs`, past every phone set aside, cut or
   * unreachable since the last look that found none: the addresses of one it finds. Set aside for that look only: the
   * old phone may have announced an address it left, so later looks (after a refusal or cuts, or this
   * one's failure retried) may find it again, at the addresses it shows then. Undefined when it finds
   * none, so the failure ends (ISOLATED) or is retried (NO_PEER) as it always was, and for any other
   * failure, a phone once connected (its failed dial is a dropped link), or with nothing to search. A network whose sweep reached no device at all could connect to no other phone either: its
   * ISOLATED is not delayed. No find starts past the search's own time, so a neighbour announcing a
   * fresh peer id each time cannot keep the receive looking.
   */
  private async unreached (err: unknown, peer: PeerId | undefined, opts: Looking, emit: (e: EventBody) => void): Promise<Multiaddr[] | undefined> {
    const { unreachable, connected } = this
    const passed = new Set([...this.passedBy(), ...this.cut.peers()])
    if (opts.search === undefined || opts.code === undefined || peer !== undefined) return undefined
    if (!isFerryError(err, ErrorCode.NO_PEER) && !isFerryError(err, ErrorCode.ISOLATED)) return undefined
    if (isFerryError(err, ErrorCode.ISOLATED) && sweptNobody(err.details?.sweeps)) return undefined
    const phone = firstPeerIdOf(opts.addrs)
    if (phone === undefined || connected.has(phone)) return undefined
    unreachable.add(phone)
    this.log('%s cannot be reached (%s): looking for another phone meanwhile', phone, err.code)
    emit({
      type: 'interrupted',
      error: new FerryError(err.code, `a phone showing this code's first three digits cannot be reached: ${sentence(err.message)} ` +
        'Someone nearby could be showing those digits in the old phone\'s place, so the search looks for another phone showing them...',
      { ...err.details, unreachable: true }, { cause: err })
    })
    try {
      const found = await lookOn(opts, new Set([...passed, ...unreachable]))
      return dialAddresses(found.addrs)
    } catch (searchErr) {
      if (opts.signal?.aborted === true) throw searchErr
      this.log('no other phone shows the nameplate: %s', (searchErr as Error)?.message)
      // Their look-on is over: the next finds may go back to them, at the addresses they show then.
      unreachable.clear()
      return undefined
    }
  }
}

/**
 * The refusal a typed-code receive heard, from the only phones the search found, none of which checked
 * the code. It may be the old phone's own (its code did expire), or a neighbour's answering for the
 * code's public first digits: said as both, with the refusal's own words and code. A QR code, which names
 * the old phone and so pairs past such a neighbour, is the app's to offer: an app may show none.
 */
function unprovedRefusal (err: FerryError, said: string, setAside: number, spent?: Spent): FerryError {
  const one = setAside === 1
  const others = spent === undefined
    ? ''
    : ` but ${spent.mismatched === 1 ? 'one that checks' : `${spent.mismatched} that check`} the code and ${spent.mismatched === 1 ? 'holds' : 'hold'} another (${spentTries(spent)})`
  return new FerryError(err.code,
    `pairing: ${one ? 'a phone' : `${setAside} phones`} showing this code's first three digits refused the code before checking it ` +
    `(${one ? 'it' : 'the last'} said: ${said}), and no other phone nearby shows them${others}. ${one ? 'It proved nothing' : 'None of them proved anything'} of the code: ` +
    'if the old phone still shows this code, someone nearby may be refusing in its place',
    { ...err.details, unproved: true, setAside, ...spent }, { cause: err })
}

/** Tries a receive spent on phones holding another code (a transfer nearby showing the same digits). */
interface Spent { mismatched: number, triesLeft: number }

/** Said of those tries: what they cost, and what is left. */
function spentTries ({ mismatched, triesLeft }: Spent): string {
  return `${mismatched === 1 ? 'one try' : `${mismatched} tries`} of the code spent there, ${triesLeft} left on this phone`
}

/**
 * Whether an ISOLATED's sweeps (isolation.ts, which the browser does not load) ran and reached no device
 * at all, not even with a refusal: unicast reaches nothing on this network, so no other phone on it
 * could be reached either.
 */
function sweptNobody (sweeps: unknown): boolean {
  return Array.isArray(sweeps) && sweeps.length > 0 && sweeps.every(s => (s as { reached?: unknown })?.reached === 0)
}

/**
 * The phones found by the search that dropped the link before any valid PAKE_B, in the order they were
 * found, with their addresses and how often each did.
 */
class CutPhones {
  private readonly byPeer = new Map<string, { addrs: Multiaddr[], cuts: number, since: number, spentMs: number }>()
  /**
   * One more cut by `peer`, found at `addrs`, after an attempt of `spentMs`: how many it has made, and
   * whether to look for another phone now: CUTS_BEFORE_LOOKING_ON cuts since it was last looked past,
   * or cuts that took `dueMs` (the first-reply deadline) together, whichever comes first.
   */
  add (peer: string, addrs: Multiaddr[], spentMs: number, dueMs: number): { cuts: number, due: boolean } {
    const phone = this.byPeer.get(peer) ?? { addrs, cuts: 0, since: 0, spentMs: 0 }
    phone.cuts++
    phone.since++
    phone.spentMs += spentMs
    this.byPeer.set(peer, phone)
    const due = phone.since >= CUTS_BEFORE_LOOKING_ON || phone.spentMs >= dueMs
    if (due) {
      phone.since = 0
      phone.spentMs = 0
    }
    return { cuts: phone.cuts, due }
  }

  peers (): string[] {
    return [...this.byPeer.keys()]
  }

  get phones (): number {
    return this.byPeer.size
  }

  get total (): number {
    return [...this.byPeer.values()].reduce((n, p) => n + p.cuts, 0)
  }

  /**
   * The phone to go back to: the one cut least (the first found among equals), so each is tried in turn;
   * none of `passed`, the phones set aside.
   */
  leastCut (passed: ReadonlySet<string>): { addrs: Multiaddr[], cuts: number } | undefined {
    const left = [...this.byPeer.entries()].filter(([p]) => !passed.has(p)).map(([, v]) => v)
    return left.length === 0 ? undefined : left.reduce((a, b) => b.cuts < a.cuts ? b : a)
  }
}

/**
 * How a typed-code receive ends when its time ran out with every phone the search found dropping the
 * link before the phones could check the code: no try was spent, and nothing tells the old phone on a
 * bad link from a neighbour cutting in its place, so it says both, and what to do for each (a QR code
 * to pair past the neighbour is the app's to offer, as with unprovedRefusal).
 */
function cutUntilTheEnd (err: FerryError, cut: CutPhones, spent?: Spent): FerryError {
  const one = cut.phones === 1
  const tries = spent === undefined
    ? 'No try of the code was spent'
    : `No try of the code was spent on ${one ? 'it' : 'them'} (${spentTries(spent)} on ${spent.mismatched === 1 ? 'a phone' : 'phones'} holding another code)`
  return new FerryError(ErrorCode.TRUNCATED,
    `pairing: ${one ? 'the phone' : `the ${cut.phones} phones`} showing this code's first three digits cut the pairing off ${cut.total === 1 ? 'once' : `${cut.total} times`} ` +
    '(the link dropped, or the other phone stopped answering) before the phones could check the code, ' +
    `and no other phone showing them paired within the receive's time. ${tries}. If it is the old phone, its link keeps failing: bring the phones ` +
    'closer, onto the same Wi-Fi, and try again; if the old phone still shows this code, someone nearby may be cutting in its place',
  { ...err.details, unproved: true, cut: true, cuts: cut.total, phones: cut.phones, ...spent }, { cause: err })
}

/** A message as a sentence ending once: a question keeps its mark, and gets no full stop after it. */
function sentence (message: string): string {
  const said = message.replace(/[.\s]*$/, '')
  return /[?!]$/.test(said) ? said : `${said}.`
}
