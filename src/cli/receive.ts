import { statSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { EXIT_OK, exitOnSignal, integerFlag, onStop, TIMEOUT_LIMITS, optionalString, requireString, StoppedAtQuestion, whileAsking, type Command } from './command.js'
import { SELECTION_HELP, SELECTION_OPTIONS, selectionFromArgs } from './selection-flags.js'
import type { FerryEvent } from '../net/ferry-service.js'
import { codeFromArgs, CODE_OPTIONS, qrFromArgs, QR_OPTIONS } from './code-input.js'
import { eventPrinter, openPhone, openStorage, parseListen, reportConnections } from './phone.js'
import { formatBytes } from '../format-bytes.js'
import { damagedMediaNote } from './progress.js'
import { jsonEvent, sayStopped } from './json-lines.js'
import { chatSummaryLines } from './chat-summary.js'
import { parseCode, parseQrPayload, qrKeyFor, type PairingCode } from '../pairing/index.js'
import { payloadOf } from '../pairing/qr-payload.js'
import { SenderSearch, senderRoute, type FindAgain } from '../net/find-sender.js'
import { firstRoundNote, type FoundVia } from '../net/isolation.js'
import { selfAssignedAddresses } from '../net/subnets.js'
import { lanDiscoveryForbidden } from '../net/lan-guard.js'
import { addressesToDial, choiceCovering, defaultListen, parseIceServers, parseTransport } from '../net/transports.js'
import { firstPeerIdOf } from '../net/addresses.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { freeSpaceOf } from '../store/free-space.js'
import type { Journal } from '../journal/journal.js'
import { PairingRecords, type PairingRecord } from '../journal/pairing-records.js'
import { TransferLog } from '../journal/transfer-log.js'
import { TriedCodes } from '../journal/tried-codes.js'
import { unheardVerification } from '../net/receiving.js'
import { holdAfterHeard, holdAfterPutBack, holdAtVerifying } from './test-hold.js'
import { tellAgainMsFrom } from './test-waits.js'
import { commandLine } from './command-line.js'
import { StoreMade } from './store-made.js'

/** The options that pair anew: a run that carries on after Ctrl-C goes without them. */
const CODE_FLAGS = ['code', 'code-file', 'qr', 'qr-file']

async function promptCode (why = ''): Promise<PairingCode> {
  if (process.stdin.isTTY !== true) {
    throw new FerryError(ErrorCode.BAD_INPUT, `no pairing code${why}: pass --code NNN-NNNN-NNNN, --code-file FILE or --qr PAYLOAD (stdin is not a terminal to ask on)`)
  }
  if (why !== '') process.stderr.write(`No pairing code${why}.\n`)
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    for (;;) {
      const answer = await whileAsking(async () => await rl.question('Pairing code shown on the old phone: ')).catch((err: unknown) => {
        // readline ends a question with Ctrl-C (it reads the terminal raw) as an AbortError.
        if ((err as { code?: string }).code === 'ABORT_ERR') {
          process.stderr.write('\n')
          throw new StoppedAtQuestion()
        }
        throw err
      })
      try {
        return parseCode(answer)
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`)
      }
    }
  } finally {
    rl.close()
  }
}

/**
 * After a typed code failed with `err`: the code typed next, while the one tried has tries left here;
 * else `err` again. A code with other first digits is refused when the old phone was found by them.
 */
async function codeAgain (err: unknown, nameplate: string, foundByDigits: boolean, journal: Journal): Promise<PairingCode> {
  if (!isFerryError(err, ErrorCode.WRONG_CODE)) throw err
  const left = err.details?.triesLeft
  if (typeof left !== 'number' || left <= 0) throw err
  const tries = `${left} ${left === 1 ? 'try' : 'tries'} of that code left here`
  process.stderr.write(typeof err.details?.showing === 'number'
    ? `${String(err.details.showing)} phones nearby show codes starting ${nameplate}, and none that checked the code holds it: check the digits, ` +
      `or stop (Ctrl-C) and pass the old phone's QR code (--qr) or an address from its 'Listening on' line (--peer) (${tries}).\n`
    : err.details?.linkDropped === true
      ? `The link dropped while the phones were checking the code, and that counted as one try (${tries}).\n`
      : `The code does not match the old phone's: check the digits (${tries}; Ctrl-C stops).\n`)
  const code = await promptCode()
  if (foundByDigits && code.nameplate !== nameplate) {
    throw new FerryError(ErrorCode.BAD_INPUT, 'that code starts with other digits than those the old phone was found by: run ferry receive again and type it')
  }
  await new TriedCodes(journal).check(code).catch(e => { throw spentCode(e) })
  return code
}

/**
 * A disk that filled part-way (not the refusal before anything came, which names the numbers): what
 * arrived is whole in the store and the same receive run again carries on after it. Said, so that a
 * person frees space rather than starting over.
 */
function diskFilled (err: unknown, paired: boolean, line: string): unknown {
  if (!isFerryError(err, ErrorCode.STORE_FULL) || err.details?.neededBytes !== undefined) return err
  return new FerryError(err.code, `${err.message}. What arrived stays: free some space on this phone, then run ${line} again ` +
    `${paired ? '(no code needed) ' : 'with the code the old phone shows '}to carry on`, err.details, { cause: err })
}

/** Why there is nothing to resume, when the store knows: an expired pairing, or a history already verified. */
async function noResumeReason (journal: Journal, expired: PairingRecord | undefined): Promise<string> {
  if (expired !== undefined) return ` (the pairing with ${expired.peerId} expired: unused for 24 hours)`
  const last = await new TransferLog(journal).lastVerified()
  return last === undefined ? '' : ` (the history received ${new Date(last.verifiedAt).toLocaleString()} is verified; there is nothing to resume)`
}

function parsePeer (v: string): Multiaddr[] {
  try {
    return v.split(',').map(a => multiaddr(a.trim()))
  } catch (err) {
    throw new FerryError(ErrorCode.BAD_INPUT, `--peer wants a multiaddr like /ip4/192.168.1.20/tcp/4001/p2p/12D3Koo...: ${(err as Error).message}`)
  }
}

/**
 * Under the LAN guard (FERRY_MDNS_NETNS_ONLY=1, outside a network namespace), the discovery a pairing
 * would start is refused here, before the store is created, and said with the flags that avoid it: the
 * engine's own refusal comes only once the phone runs, and cannot know what the person gave.
 */
function refuseGuardedDiscovery (mdns: boolean, sweep: boolean, addressGiven: boolean): void {
  if ((!mdns && !sweep) || !lanDiscoveryForbidden()) return
  const what = mdns && sweep ? 'mDNS and the subnet sweep' : mdns ? 'mDNS' : 'the subnet sweep'
  const add = [mdns ? '--no-mdns' : '', sweep ? '--no-sweep' : ''].filter(f => f !== '').join(' ')
  throw new FerryError(ErrorCode.BAD_INPUT, `looking for the old phone on the local network (${what}) is only allowed inside a network ` +
    `namespace here (FERRY_MDNS_NETNS_ONLY=1): ${addressGiven
      ? `the old phone's address is given, so add ${add}`
      : `give the old phone's address with --peer MULTIADDR or --qr PAYLOAD and add ${add}`}, or run in a namespace`)
}

/** The way that reaches the old phone whatever the network lets a search see. */
const BY_ADDRESS = 'Scanning the old phone\'s QR code (--qr) or passing the address it prints (--peer) reaches it without searching.'

/** A search that found no phone (NO_PEER), ending with the way that works without one. */
function withWayRound (err: unknown): unknown {
  if (!isFerryError(err, ErrorCode.NO_PEER) || err.message.includes('(--qr)')) return err
  const said = err.message.trimEnd()
  return new FerryError(err.code, `${said}${/[.?!]$/.test(said) ? '' : '.'} ${BY_ADDRESS}`, err.details, { cause: err })
}

const needsAddress = (): FerryError => new FerryError(ErrorCode.BAD_INPUT, 'with --no-mdns and --no-sweep the old phone\'s address is needed: --peer MULTIADDR or --qr PAYLOAD')

/** Whether DIR holds a store's history already (one that may remember a pairing to resume). */
function holdsHistory (dir: string): boolean {
  try {
    return (statSync(join(dir, 'history.db'), { throwIfNoEntry: false })?.size ?? 0) > 0
  } catch {
    return false // not a folder: opening the store says so
  }
}

/** The refusal of a code this phone tried too often, with what to do in the CLI's words. */
function spentCode (err: unknown): unknown {
  if (!isFerryError(err, ErrorCode.CODE_EXPIRED) || err.details?.state !== 'tried') return err
  return new FerryError(ErrorCode.CODE_EXPIRED,
    `this code was tried ${String(err.details.tried)} times without pairing, so it will not be tried again: someone nearby may be ` +
    'posing as the old phone, or the code was mistyped. Ask for a new code: run ferry send again on the old phone, ' +
    'or pass its QR code with --qr, which cannot be mistyped', err.details, { cause: err })
}

/**
 * A typed code that only phones refusing it unchecked or cutting the pairing answered (net/look-past.ts):
 * the library's words, and the QR code, which names the old phone and so pairs past them.
 */
function pastNeighbours (err: FerryError): FerryError {
  return new FerryError(err.code, `${err.message}; the old phone's QR code (--qr), which names it, pairs all the same`, err.details, { cause: err })
}

/**
 * The old phone's refusal of a typed code as dead, with the one way that may still pair: three wrong
 * tries end typing there, not its QR code (the library leaves the QR code out: an app may show none).
 */
function deadTypedCode (err: FerryError): FerryError {
  return new FerryError(err.code, 'the old phone refused the code as expired: another phone used it, it was tried three times wrongly, ' +
    'or it is more than ten minutes old. After wrong tries its QR code (--qr) still pairs; else run ferry send there again for a new code',
  err.details, { cause: err })
}

/**
 * A typed code that no phone found by the search held, when several showed its first three digits
 * (net/look-past.ts): the library's words, and the two things that name the old phone, so pair with it
 * alone past another transfer's phone: its QR code, or the address it prints.
 */
function amongSeveral (err: FerryError, left: number): FerryError {
  return new FerryError(ErrorCode.WRONG_CODE, `${err.message.replace(/^pairing: /, '')}. To pair with the old phone alone, pass its QR code (--qr, the ferry:// line ` +
    `its ferry send prints) or an address from its 'Listening on' line (--peer)${left > 0 ? '' : ', or run ferry send there again for a new code'}`, err.details, { cause: err })
}

/** A typed code that did not pair, with what to do next in the CLI's words (`qr`: the code came from a QR code). */
export function wrongCode (err: unknown, { qr = false }: { qr?: boolean } = {}): unknown {
  if (isFerryError(err) && err.details?.unproved === true && (err.details.setAside !== undefined || err.details.cut === true)) return pastNeighbours(err)
  if (!qr && isFerryError(err, ErrorCode.CODE_EXPIRED) && err.details?.from === 'sender' && err.details.state === undefined) return deadTypedCode(err)
  if (!isFerryError(err, ErrorCode.WRONG_CODE)) return err
  const left = err.details?.triesLeft
  if (typeof left !== 'number') return err
  if (typeof err.details?.showing === 'number') return amongSeveral(err, left)
  if (err.details?.linkDropped === true) {
    // A try spent as the link went (net/pair-stream.ts): not retried, so the person hears of it. The
    // other phone had not proved it holds the code typed, which may be mistyped: run again unchecked,
    // a mistyped code spends another try.
    return new FerryError(ErrorCode.WRONG_CODE, 'the link dropped while the phones were checking the code, and that counted as one try: ' + (left === 0
      ? 'no tries of this code are left here. Run ferry send again on the old phone for a new code, or pass its QR code with --qr, which cannot be guessed and is not counted'
      : `${left} ${left === 1 ? 'try' : 'tries'} of this code left here. Check its digits against the old phone's, then run ferry receive again, or pass the QR code with --qr, which cannot be guessed and is not counted`), err.details, { cause: err })
  }
  return new FerryError(ErrorCode.WRONG_CODE, 'the code does not match the old phone\'s: ' + (left === 0
    ? 'no tries of this code are left here. Run ferry send again on the old phone for a new code, or pass its QR code with --qr, which cannot be mistyped'
    : `check the digits. ${left} ${left === 1 ? 'try' : 'tries'} of this code left here; the QR code (--qr) cannot be mistyped`), err.details, { cause: err })
}

/**
 * What a person reads when the history is verified here but the old phone was not told. A run that only
 * tried to tell it cannot know whether it heard before this phone stopped: it says what it knows.
 */
const unheardNote = (again: string, telling: boolean): string =>
  (telling
    ? 'The history is verified and safe on this phone, but the old phone could not be reached to tell it (it may have heard before). '
    : 'Everything arrived and is verified here, but the old phone did not hear so (its ferry send was stopped, or lost ' +
      'the link, just before). The history is safe on this phone. ') +
  `If ferry send is started there again, it waits for this phone: then run ${again} here ` +
  '(no code needed) to tell it.\n'

/** A failure that ended a receive before anything arrived, with what became of the store it made. */
const nothingReceived = (err: unknown, said: string): unknown =>
  isFerryError(err) ? new FerryError(err.code, `${err.message} (nothing was received: ${said})`, err.details, { cause: err }) : err

/** Failures where the old phone went away or could not be reached: a kept pairing carries on later. */
const PEER_WENT = new Set<string>([ErrorCode.NO_PEER, ErrorCode.TRUNCATED, ErrorCode.ISOLATED, ErrorCode.PEER_ERROR, ErrorCode.CANCELLED])

/**
 * A receive given up on a vanished old phone, with what became of its work: while this store keeps the
 * pairing, what arrived stays and a run without the code carries on (as after Ctrl-C).
 */
async function withCarryOn (err: unknown, journal: Journal, again: string): Promise<unknown> {
  if (!isFerryError(err) || !PEER_WENT.has(err.code)) return err
  const kept = await new PairingRecords(journal).load().then(r => r?.role === 'receiver', () => false)
  if (!kept) return err
  const said = err.message.trimEnd().replace(/:$/, '')
  return new FerryError(err.code, `${said}${/[.?!]$/.test(said) ? '' : '.'} What arrived is kept here: once ferry send runs again on the old phone, run ${again} (no code needed) to carry on`, err.details, { cause: err })
}

const withPeer = (addrs: string[], peerId: string): Multiaddr[] =>
  addrs.map(a => a.includes('/p2p/') ? multiaddr(a) : multiaddr(`${a}/p2p/${peerId}`))

const receive: Command = {
  name: 'receive',
  summary: 'receive a history from an old phone',
  help: `Usage: ferry receive --store DIR [--code CODE | --code-file FILE | --qr PAYLOAD | --qr-file FILE] [--peer MULTIADDR] [selection] [options]

Finds the old phone running 'ferry send' on the local network, pairs with the code it shows, and
receives its history into DIR (created when missing). Asks for the code when it is not given and stdin
is a terminal. Resumes by itself after a dropped link; after a crash, run it again without a code: the
phones reconnect with the token kept from pairing.

When everything arrived and is verified but the old phone could not be told (its 'ferry send' was
stopped, or lost the link, just before it heard), this phone tries to tell it for 20 s, then says so
and exits 0: the history is safe here. The pairing is kept: if 'ferry send' is started there again
(it then waits for this phone), run 'ferry receive --store DIR' here again, without a code, to tell it;
both then exit 0.

A typed code is tried three times at most without pairing, counted in DIR across runs: someone nearby
posing as the old phone learns from each try whether they guessed the code; a wrong code says how many
tries of it are left, and a code typed at the question is asked for again while it has tries left. A link that drops while the phones check the code, before the other phone showed
it holds the code, counts as a try too: that run ends (WRONG_CODE) rather than reconnect by itself,
saying how many are left. After three the code is refused at once (CODE_EXPIRED): ask for a new one,
or use the QR code, whose key cannot be guessed. A phone found by the search that refuses the code
before checking it (anyone nearby can show its first three digits) costs no try: it is set aside and
the search goes on; only when no other phone shows them within 12 s (or --timeout) does the run end
with that refusal. Nor does a phone found by the search that drops the link before the phones check
the code: it is tried again, as the old phone on a bad link would be, and after three such drops, or
drops that took 10 s together, or when it gives no answer within 10 s, the search looks for another phone showing those digits, going
back to it when none shows up; when --timeout passes that way the run ends (TRUNCATED) saying so.
Nor does a phone found by the search whose addresses cannot be reached: the run says why (a refusal,
or a Wi-Fi that keeps devices apart) and looks for another phone showing the digits, without ruling
it out for good (it may be the old phone, moved); when none shows up within 12 s it goes on as below
(ISOLATED then ends it, 12 s later). Another transfer nearby may show the same first three digits:
a phone found that checks the code and holds another costs a try and is set aside, and the search
looks 6 s for another phone showing them, no phone tried twice; a run that met several such phones
says so at the end, and that the QR code (--qr) or an address the old phone prints (--peer) names it.

Finding the old phone: mDNS, scoped by the code's first three digits; when that finds nothing within
2 s (a network that filters multicast, a VPN), a sweep of this phone's own subnets asks each host, on
the old phone's discovery port, whether it shows those three digits (at most 254 hosts per subnet,
200 connects a second). When the old phone is found but none of its addresses answers, the Wi-Fi is
keeping devices apart (client isolation): that ends with exit 1 and the error code ISOLATED (after
12 s more of looking for another phone, unless the sweep reached no device at all).

Options:
  -s, --store DIR     the new phone's store (required; created when missing, and taken back when
                      the run ends before anything arrived)
  --code CODE         the code shown by the old phone (NNN-NNNN-NNNN; spaces or no hyphens are fine);
                      other users of this machine can read a command line (ps): scripts should use
                      --code - (the first line of stdin) or --code-file FILE
  --code-file FILE    read the code from the first line of FILE
  --qr PAYLOAD        the ferry://pair?... payload of the old phone's QR code (code, its key and
                      addresses), or the http://...#ferry://pair?... link 'ferry send --web' shows
                      (WebRTC only: add --transport webrtc or auto). Its key pairs even after three
                      wrong codes were tried. Like the code it is secret: --qr - reads it from stdin
  --qr-file FILE      read the QR code's payload from the first line of FILE
  --peer MULTIADDR    dial this address instead of discovering (e.g. /ip4/10.0.0.2/tcp/4001)
${SELECTION_HELP}
  --transport T       which of the old phone's addresses to dial: tcp (default), webrtc
                      (webrtc-direct) or auto (TCP first, WebRTC when no TCP address answers)
  --ice-servers URLS  STUN/TURN servers for WebRTC, comma-separated (stun:HOST:PORT,
                      turn:USER:PASS@HOST:PORT); none by default
  --no-mdns           do not look for the old phone by mDNS (the sweep then starts at once)
  --no-sweep          do not sweep the local subnets for the old phone (mDNS, --peer or --qr only)
  --listen ADDRS      multiaddrs to listen on (default /ip4/0.0.0.0/tcp/0; none with --transport webrtc)
  --json              print JSON events (discovered, sweeping, swept, connection, paired, manifest,
                      progress, chats-ready, verifying, verified) instead of a bar; discovered says how the
                      old phone was found (via: mdns, sweep, qr, peer or resume), swept what a
                      sweep round saw, connection which address and interface it runs over;
                      verified has unheard: true when the old phone did not hear it; interrupted
                      has unproved: true (and cut, cuts, or unreachable: true) when it looks past
                      a phone the search found
  --timeout SECONDS   how long to look for the old phone, and to retry after the link drops (default 60)
  --restore-deleted   bring back the chats, messages, media and contacts deleted on this phone since the last
                      transfer from the same old phone. Without it they stay deleted: a later transfer brings
                      only what the old phone changed since (a new message in a deleted chat brings
                      the chat back with it), and says how many stay deleted

Examples:
  ferry receive --store ./new-phone --code 123-4567-8901
  ferry receive --store ./new-phone --transport webrtc --qr 'ferry://pair?v=2&code=...'

Exit codes: 0 received and verified (also when the old phone did not hear it: see above), 1 failed
(wrong code; a code that expired or already paired another phone, or that this phone tried three
times without pairing, CODE_EXPIRED: ask for a new one; no phone found, the Wi-Fi keeps devices
apart, phone went away, verification failed), 2 bad usage, 130 stopped with Ctrl-C,
143 by kill, 129 by the terminal closing (run it again to carry on).`,
  options: {
    store: { type: 'string', short: 's' },
    ...CODE_OPTIONS,
    ...QR_OPTIONS,
    peer: { type: 'string' },
    ...SELECTION_OPTIONS,
    transport: { type: 'string' },
    'ice-servers': { type: 'string' },
    'no-mdns': { type: 'boolean' },
    'no-sweep': { type: 'boolean' },
    listen: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    'restore-deleted': { type: 'boolean' }
  },
  async run (args) {
    const storeDir = requireString(args, 'store', 'receive')
    // The chats asked for are named by the old phone's ids, which nothing here can check before pairing.
    // Once paired, the old phone sends what it holds of them (and refuses, naming both sides, when that is
    // nothing); refusing then would spend the code and drop the chats that do exist, so the chats it does
    // not send are named in a warning instead (the manifest event's `unsent`).
    const request = selectionFromArgs(args)
    const json = args.values.json === true
    const timeoutMs = integerFlag(args, 'timeout', 60, TIMEOUT_LIMITS) * 1000
    const iceServers = parseIceServers(optionalString(args, 'ice-servers'))
    const qrArg = await qrFromArgs(args)
    const qr = qrArg !== undefined ? parseQrPayload(payloadOf(qrArg)) : undefined
    const codeArg = await codeFromArgs(args)
    const peerArg = optionalString(args, 'peer')
    let addrs: Multiaddr[] = peerArg !== undefined ? parsePeer(peerArg) : qr !== undefined ? withPeer(qr.addrs, qr.peerId) : []
    // Everything that can be told wrong without the store is, before it is created: bad usage leaves nothing.
    const transportGiven = optionalString(args, 'transport')
    if (transportGiven !== undefined) parseTransport(transportGiven)
    const listenGiven = parseListen(optionalString(args, 'listen'))
    // A phone given a code or a QR code pairs anew; so does a new store, which holds no pairing to resume.
    const pairsAnew = codeArg !== undefined || qr !== undefined || !holdsHistory(storeDir)
    if (pairsAnew && addrs.length === 0 && args.values['no-mdns'] === true && args.values['no-sweep'] === true) throw needsAddress()
    if (pairsAnew) refuseGuardedDiscovery(args.values['no-mdns'] !== true, args.values['no-sweep'] !== true && addrs.length === 0, addrs.length > 0)
    if (qr !== undefined) addressesToDial(addrs, parseTransport(transportGiven))
    const asked = codeArg ?? qr?.code ?? (pairsAnew ? await promptCode() : undefined)
    const made = StoreMade.before(storeDir)
    const storage = await openStorage(storeDir, true)
    const record = storage.pairing
    const resuming = asked === undefined && record?.role === 'receiver'
    // A history verified here that the old phone did not hear: this run only tells it.
    const telling = resuming ? await unheardVerification(storage.journal, new PairingRecords(storage.journal)).catch(async err => { await storage.close(); throw err }) : undefined
    const expired = storage.expiredPairing?.role === 'receiver' ? storage.expiredPairing : undefined
    const code = asked ?? (resuming ? undefined : await promptCode(await noResumeReason(storage.journal, expired)).catch(async err => { await storage.close(); throw err }))
    const qrKey = qrKeyFor(qr, code)
    // A typed code this phone spent its guesses on is refused before anything looks for the old phone.
    if (code !== undefined && qrKey === undefined) await new TriedCodes(storage.journal).check(code).catch(async err => { await storage.close(); throw spentCode(err) })
    if (resuming && addrs.length === 0) addrs = withPeer(record?.addrs ?? [], record?.peerId ?? '')
    // A resumed phone dials what it dialled before unless told otherwise.
    const transport = parseTransport(transportGiven, (resuming ? choiceCovering(record?.addrs ?? []) : undefined) ?? 'tcp')
    // Before anything starts: a TCP-only phone shown a WebRTC-only QR code says so at once.
    addrs = addressesToDial(addrs, transport)
    const nameplate = code?.nameplate ?? record?.nameplate ?? ''
    const mdns = args.values['no-mdns'] !== true && nameplate !== '' ? nameplate : false
    const sweeping = args.values['no-sweep'] !== true && nameplate !== ''
    const listen = listenGiven ?? defaultListen(transport, 'receiver')
    // A phone that cannot start (its --listen address taken) has written nothing into a store just made.
    const phone = await openPhone(storage, { storeDir, listen, transport, iceServers, mdnsNameplate: mdns })
      .catch(err => { throw made.createsStore ? nothingReceived(err, made.takeBack()) : err })
    reportConnections(phone, json)
    const printer = eventPrinter(json, 'receiving', 'the old phone')
    // A store this run created that holds nothing yet (no phone answered, no pairing) is taken back when
    // the run ends without one: a wrong path or a run given up leaves no folder that reads as a phone.
    // A store that cannot even be read is not looked into further: it stays, and its failure is the one said.
    const bare = (): boolean => { try { return made.createsStore && StoreMade.holdsNothing(phone.store, phone.journal) } catch { return false } }
    let closing: Promise<void> | undefined
    const close = async (): Promise<void> => { closing ??= phone.close(); await closing }
    // Whether this phone holds a pairing with the old phone: only then does a run without the code carry on.
    let paired = resuming
    // Ctrl-C (a `kill`, the terminal closed): say how to carry on, then go at once. Every commit is already durable and a resume starts
    // from the last one (what a killed process is tested for), so nothing is waited for.
    const onSignal = (signal: NodeJS.Signals): void => {
      if (bare()) {
        phone.store.close()
        void phone.journal.close()
        sayStopped(printer, json, `Nothing was received: ${made.takeBack()}.`, signal)
      } else {
        sayStopped(printer, json, paired
          ? `Run ${commandLine('receive', args, CODE_FLAGS)} again (no code needed) to carry on where it stopped.`
          : `Nothing came from the old phone yet: run ${commandLine('receive', args, CODE_FLAGS)} again with the code it shows.`, signal)
      }
      process.exit(exitOnSignal(signal))
    }
    const stopListening = onStop(onSignal)
    // Whether the old phone is looked for (no address given): a search that finds nobody says the way round it.
    let bySearch = false
    try {
      const expected = qr?.peerId ?? (resuming ? record?.peerId : undefined)
      // Set once the search looks on past a phone that refused the code unchecked.
      let lookingPast = false
      const search = new SenderSearch({
        node: phone.node,
        nameplate,
        mdns: mdns !== false,
        sweep: sweeping,
        accept: expected !== undefined ? peer => peer === expected : undefined,
        timeoutMs,
        onSweepStart: subnets => {
          if (json) jsonEvent('sweeping', { subnets })
          else if (!lookingPast && subnets.length > 0) process.stderr.write(`Nothing by mDNS yet; asking the hosts of ${subnets.join(', ')}...\n`)
        },
        onSweepRound: (round, stats, ms) => {
          if (json) { jsonEvent('swept', { round, ms, subnets: stats }); return }
          // Looking past a phone set aside, the person has been told why, and the phone set aside would
          // count among those "showing other codes".
          if (round !== 1 || lookingPast) return
          const { note, nobody } = firstRoundNote(stats, selfAssignedAddresses())
          process.stderr.write(`${note}${nobody ? ` ${BY_ADDRESS}` : ''} Still looking...\n`)
        }
      })
      if (telling !== undefined) {
        process.stderr.write(`The history received earlier (${telling.progress.totalMessages} messages) is verified here, and the old phone may not have heard so: telling it...\n`)
      }
      let via: FoundVia = peerArg !== undefined ? 'peer' : qr !== undefined ? 'qr' : 'resume'
      let preferHost: string | undefined
      const sayFound = (found: { addrs: Multiaddr[], via: FoundVia, host?: string }): void => {
        const peerOf = firstPeerIdOf(found.addrs)
        if (json) jsonEvent('discovered', { peer: peerOf, addrs: found.addrs.map(String), via: found.via, ...(found.host !== undefined ? { host: found.host } : {}) })
        else if (found.via === 'mdns' || found.via === 'sweep') process.stderr.write(`Found ${peerOf ?? 'the old phone'} ${found.via === 'mdns' ? 'by mDNS' : `by the sweep at ${found.host ?? '?'}`}\n`)
      }
      // A phone the search found may refuse the code without checking it (anyone can show its first
      // digits): the receive then sets it aside and looks on through the same search. Addresses given
      // (--peer, --qr) leave nothing else to look for.
      let searched: { find: (again: FindAgain) => Promise<{ addrs: Multiaddr[] }> } | undefined
      bySearch = addrs.length === 0
      if (addrs.length === 0) {
        if (mdns === false && !sweeping) throw needsAddress()
        if (!json) process.stderr.write('Looking for the old phone on the local network...\n')
        const found = await search.find()
        addrs = addressesToDial(found.addrs, transport)
        via = found.via
        preferHost = found.host
        searched = {
          find: async again => {
            lookingPast = true
            const other = await search.find(again)
            const dial = addressesToDial(other.addrs, transport)
            sayFound({ ...other, addrs: dial })
            return { addrs: dial }
          }
        }
      }
      sayFound({ addrs, via, host: preferHost })
      if (qr !== undefined) peerIdFromString(qr.peerId)
      const onEvent = (e: FerryEvent): void => {
        // Every message is in: the store builds what a bulk load deferred and lets go of its caches
        // while the media goes on (before the service's memory hook collects: nodeTransferMemory).
        if (e.type === 'chats-ready') phone.store.messagesDone()
        if (e.type === 'paired') paired = true
        printer.onEvent(e)
      }
      // Looking again for a sender that restarted elsewhere is a sweep: never where the guard forbids one.
      const route = senderRoute({
        via,
        preferHost,
        search: sweeping && !lanDiscoveryForbidden() ? search : undefined,
        onRelocated: hit => {
          if (json) jsonEvent('discovered', { peer: hit.peer, addrs: hit.addrs.map(String), via: 'sweep', host: hit.host, again: true })
          else process.stderr.write(`Found ${hit.peer} again by the sweep at ${hit.host}\n`)
        }
      })
      // keepUnheard: an old phone that did not hear the verification can still be told by a later run.
      const options = {
        addrs,
        qrKey,
        search: searched,
        request,
        onEvent,
        retryForMs: timeoutMs,
        route,
        freeBytes: freeSpaceOf(storeDir),
        restoreDeleted: args.values['restore-deleted'] === true,
        keepUnheard: true,
        tellAgainMs: tellAgainMsFrom(),
        beforeVerifying: holdAtVerifying(),
        afterHeard: holdAfterHeard(() => { if (json) jsonEvent('held', { after: 'heard' }); else process.stderr.write('Held: the old phone heard Verified (FERRY_TEST_HOLD_HEARD).\n') }),
        afterPutBack: holdAfterPutBack(() => { if (json) jsonEvent('held', { after: 'put back' }); else process.stderr.write('Held: media records put back, not yet removed again (FERRY_TEST_HOLD_PUT_BACK).\n') })
      }
      // A code typed at the prompt that did not pair is asked for again while it has tries left: a
      // person mistypes a digit. Given by --code, to --json or with no terminal, the run ends instead.
      const askAgain = codeArg === undefined && qr === undefined && !json && process.stdin.isTTY === true
      let typed = code
      let received
      for (;;) {
        try {
          received = await phone.ferry.receive({ ...options, code: typed }).catch(err => { throw wrongCode(err, { qr: qrKey !== undefined }) })
          break
        } catch (err) {
          if (!askAgain) throw err
          typed = await codeAgain(err, typed?.nameplate ?? '', via === 'mdns' || via === 'sweep', storage.journal)
        }
      }
      const { summary, progress, stats, unheard } = received
      printer.stop()
      if (!json) {
        // What this phone now holds of the old phone's history: what stays deleted here is not counted.
        const messages = summary.reduce((n, s) => n + s.messages, 0)
        process.stderr.write(`\nVerified: ${messages} messages and ${formatBytes(progress.totalMediaBytes)} of media.\n`)
        for (const line of chatSummaryLines(summary)) process.stderr.write(`${line}\n`)
      }
      // With --json the verified event's stats say it (mediaFilesDamaged).
      const damaged = damagedMediaNote(stats.mediaFilesDamaged ?? 0, 'the old phone', 'moved')
      if (!json && damaged !== undefined) process.stderr.write(`${damaged} ferry inspect lists them; a later transfer tries again.\n`)
      // Said with --json too, as errors are: a person must know the history is safe and what the old phone needs.
      if (unheard === true) process.stderr.write(unheardNote(commandLine('receive', args, CODE_FLAGS), telling !== undefined))
      else if (telling !== undefined) process.stderr.write('The old phone no longer waits for this one: its ferry send is done.\n')
      return EXIT_OK
    } catch (err) {
      const way = (e: unknown): unknown => bySearch ? withWayRound(e) : e
      if (!bare()) {
        const again = commandLine('receive', args, CODE_FLAGS)
        throw way(await withCarryOn(diskFilled(err, paired, again), phone.journal, again))
      }
      await close()
      const said = made.takeBack()
      throw way(nothingReceived(err, said))
    } finally {
      stopListening()
      printer.stop()
      await close()
    }
  }
}

export default receive
