import qrcode from 'qrcode-terminal'
import { multiaddr } from '@multiformats/multiaddr'
import { EXIT_OK, exitOnSignal, integerFlag, onStop, TIMEOUT_LIMITS, optionalString, requireString, type Command } from './command.js'
import { SELECTION_HELP, SELECTION_OPTIONS, selectionFromArgs } from './selection-flags.js'
import { eventPrinter, openPhone, openStorage, parseListen, reportConnections } from './phone.js'
import { formatBytes } from '../format-bytes.js'
import { jsonEvent, sayStopped } from './json-lines.js'
import { buildQrPayload, formatCode, generateCode, generateQrKey, type PairingCode } from '../pairing/index.js'
import { CodeBudgets } from '../journal/code-budgets.js'
import { codeFromArgs, CODE_OPTIONS } from './code-input.js'
import { MAX_QR_ADDRS } from '../pairing/qr-payload.js'
import { dialableAddresses, hostOf, networkOf } from '../net/addresses.js'
import { startResponder, type DiscoveryResponder } from '../net/probe.js'
import { choiceCovering, defaultListen, kindOf, kindsOf, parseIceServers, parseTransport, pickOffered, type TransportChoice } from '../net/transports.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { refuseOfferedSelection } from '../protocol/selection-check.js'
import { pageHost, pageLink, DEFAULT_PAGE_PORT, type PageServer } from '../net/page-server.js'
import { commandLine } from './command-line.js'
import { serveKeptPage, rememberPagePort } from '../net/page-port.js'

/**
 * Where a restarted sender listens: on the hosts and transports it had, at any port, which openPhone
 * turns into the ports it had (TCP and UDP) while they can be bound, so a receiver holding its old
 * address finds it again; the webrtc-direct certificate is kept in the store, so its certhash is
 * unchanged too.
 */
function previousListen (addrs: string[], choice: TransportChoice): string[] | undefined {
  if (addrs.length === 0) return undefined
  const parsed = addrs.map(a => ({ kind: kindOf(a), parts: multiaddr(a).getComponents() }))
  const ip4Of = (parts: typeof parsed[number]['parts']): string | undefined => parts.find(c => c.name === 'ip4')?.value
  // A sender that was reachable only on loopback stays there; otherwise it listens on every interface.
  const onlyLoopback = parsed.every(p => ip4Of(p.parts) === '127.0.0.1')
  return kindsOf(choice).map(kind => {
    const prev = parsed.find(p => p.kind === kind)
    const host = prev !== undefined ? (ip4Of(prev.parts) === '127.0.0.1' ? '127.0.0.1' : '0.0.0.0') : onlyLoopback ? '127.0.0.1' : '0.0.0.0'
    return kind === 'tcp' ? `/ip4/${host}/tcp/0` : `/ip4/${host}/udp/0/webrtc-direct`
  })
}

/**
 * Where the discovery port listens: on every interface when the phone does, on its one LAN address when
 * it was told to listen on one, and nowhere when it listens on loopback only (no sweep looks there).
 */
function discoveryHost (listen: string[]): string | undefined {
  const hosts = listen.map(a => multiaddr(a).getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value)
  if (hosts.some(h => h === '0.0.0.0' || h === '::')) return '0.0.0.0'
  return hosts.find(h => h !== undefined && /^\d+\.\d+\.\d+\.\d+$/.test(h) && !h.startsWith('127.'))
}

/**
 * What a sender listening on every interface says when none of its addresses is on a LAN: a self-assigned
 * one is reached on the same link, but never swept; with loopback alone no other phone reaches it.
 */
function noLanNote (addrs: string[], listen: string[]): { network: 'link-local' | 'none', note: string } | undefined {
  if (discoveryHost(listen) !== '0.0.0.0') return undefined
  const network = networkOf(addrs.map(a => multiaddr(a)))
  if (network === 'lan') return undefined
  if (network === 'none') {
    return { network, note: 'This phone has no network address (only its own 127.0.0.1): no other phone can reach it. Join the Wi-Fi, or one phone\'s hotspot, and run ferry send again.' }
  }
  const hosts = [...new Set(addrs.map(a => hostOf(multiaddr(a))).filter(h => h !== undefined))]
  return {
    network,
    note: `This phone has no address from the network, only the self-assigned ${hosts.join(', ')} (no DHCP answer): the new phone finds it by mDNS on the same link, ` +
      'but not by the sweep; the QR code, or the address above with --peer, reaches it without searching.'
  }
}

/** --max-rate in MB/s (decimal megabytes, as the progress bar shows them) to bytes per second. */
function maxRate (v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const mb = Number(v)
  if (!Number.isFinite(mb) || mb <= 0) throw new FerryError(ErrorCode.BAD_INPUT, `--max-rate wants megabytes per second, a positive number; got '${v}'`)
  return mb * 1e6
}

const send: Command = {
  name: 'send',
  summary: 'offer this phone\'s history to a new phone',
  help: `Usage: ferry send --store DIR [--code CODE | --code-file FILE | --new] [selection] [options]

Offers the history in DIR to one new phone on the same network. Shows a pairing code (and a QR code):
type it on the new phone with 'ferry receive'. Waits until the new phone has verified everything it
received, through dropped links and reconnects. After a crash, run it again without --code: the two
phones reconnect with the token they keep from pairing. That token is good until the transfer is
verified, for 24 hours after it was last used, and only until this phone pairs with another one by code
(--new shows a fresh code; until a phone pairs with it, the earlier one may still resume).

A code allows three wrong attempts in total, lives ten minutes from when it was first shown and pairs
one phone, across restarts: DIR remembers what each code it showed has spent, so a code that was used,
spent its attempts or expired is refused (exit 1, CODE_EXPIRED); start again without --code. Anyone
who reaches this phone can spend those three attempts; the QR code also holds a key no one can guess,
so after three wrong codes this phone says so and waits on for a phone that scans it. When the code
expires with no phone paired, QR code included, ferry send ends: exit 1, CODE_EXPIRED.

Options:
  -s, --store DIR     the old phone's store (required)
  --code CODE         use this code (NNN-NNNN-NNNN) instead of a random one (scripts and tests); other
                      users of this machine can read a command line (ps): prefer --code - or --code-file
  --code -            read the code from the first line of stdin
  --code-file FILE    read the code from the first line of FILE
  --new               pair a new phone with a fresh code, although an earlier pairing could resume
                      (its phone was lost or reset); that phone can no longer resume once this one pairs
${SELECTION_HELP}
  --transport T       tcp (default), webrtc or auto (both). WebRTC is webrtc-direct: what a browser
                      phone can dial; its addresses carry the certificate hash (/certhash/...),
                      kept in DIR/webrtc-cert.json so a restarted sender keeps its address
  --listen ADDRS      multiaddrs to listen on, comma-separated (default for the transport:
                      /ip4/0.0.0.0/tcp/0 and/or /ip4/0.0.0.0/udp/0/webrtc-direct); run again to
                      resume, a port 0 (any free one) is the port it had, where the new phone redials
  --ice-servers URLS  STUN/TURN servers for WebRTC, comma-separated (stun:HOST:PORT,
                      turn:USER:PASS@HOST:PORT); none by default, which suits one network
  --no-mdns           do not announce on the local network by mDNS
  --no-sweep          do not answer the new phone's subnet sweep: no discovery port (TCP, the first
                      free of 24750-24757; it only says whether this phone shows the code's first
                      three digits). With --no-mdns too, the receiver needs --peer or --qr
  --web               also serve the browser phone to the new phone, from this phone, over plain HTTP
                      on its Wi-Fi address, while the offer is open: the QR code is then a link
                      (http://ADDRESS:PORT/#ferry://pair?...) that a phone's camera opens in its
                      browser, which pairs and receives with nothing installed. Implies
                      --transport auto (WebRTC for the browser, TCP for ferry receive); with
                      --json the code event carries the link (page)
  --web-port N        the port to serve the page on (default ${DEFAULT_PAGE_PORT}, or any free one when
                      that is taken; 0 for any free one); run again to resume, the default or 0 is
                      the port the page had when the new phone paired, while it is free: the
                      browser keeps what it received for that address and port
  --json              print JSON events (code, offering, connection, paired, pair-failed,
                      typed-code-spent, manifest, progress, verified) instead of a bar; code and
                      resuming carry the discovery port, offering the code's expiry
                      (codeExpiresAt); page-moved (was, page) when a resumed sender cannot serve
                      the page where it was. A failure ends with an error event and its code:
                      CODE_EXPIRED when the code expired unused, NO_PEER when --timeout passed
  --timeout SECONDS   give up when nobody has paired within this time (default: the code's own life,
                      ten minutes from when it was first shown; 600 while waiting for a phone paired
                      before to come back)
  --max-rate MB/S     send at most this many megabytes per second (leave room on a shared Wi-Fi);
                      default: as fast as the link and the new phone take it

Examples:
  ferry send --store ./old-phone --chats family,work --since 2024-01-01
  # TCP and WebRTC, for a browser phone
  ferry send --store ./old-phone --transport auto
  # the new phone scans the QR code: nothing to install
  ferry send --store ./old-phone --web

Exit codes: 0 transferred and verified, 1 failed (CODE_EXPIRED: the code expired unused, or was
refused; NO_PEER: nobody paired within --timeout), 2 bad usage, 130 stopped with Ctrl-C
(143 by kill, 129 by the terminal closing).`,
  options: {
    store: { type: 'string', short: 's' },
    ...CODE_OPTIONS,
    ...SELECTION_OPTIONS,
    listen: { type: 'string' },
    transport: { type: 'string' },
    'ice-servers': { type: 'string' },
    'no-mdns': { type: 'boolean' },
    'no-sweep': { type: 'boolean' },
    web: { type: 'boolean' },
    'web-port': { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    'max-rate': { type: 'string' },
    new: { type: 'boolean' }
  },
  async run (args) {
    const storeDir = requireString(args, 'store', 'send')
    const selection = selectionFromArgs(args)
    const json = args.values.json === true
    const codeGiven = await codeFromArgs(args)
    const timeoutGiven = args.values.timeout !== undefined
    const timeoutMs = integerFlag(args, 'timeout', 600, TIMEOUT_LIMITS) * 1000
    const maxBytesPerSecond = maxRate(optionalString(args, 'max-rate'))
    const web = args.values.web === true
    const webPort = args.values['web-port'] !== undefined ? integerFlag(args, 'web-port', 0) : undefined
    if (webPort !== undefined && !web) throw new FerryError(ErrorCode.BAD_INPUT, '--web-port goes with --web')
    if (webPort !== undefined && webPort > 65535) throw new FerryError(ErrorCode.BAD_INPUT, `--web-port must be at most 65535, got ${webPort}`)
    const transportGiven = optionalString(args, 'transport')
    if (web && transportGiven === 'tcp') {
      throw new FerryError(ErrorCode.BAD_INPUT, '--web serves a browser phone, and a browser can dial only WebRTC: use --transport auto (what --web picks) or webrtc')
    }
    const storage = await openStorage(storeDir, false)
    // The offer refuses such a selection too, but only once the network is open and the code shown.
    try {
      await refuseOfferedSelection(storage.store, selection)
    } catch (err) {
      await storage.close()
      throw err
    }
    const record = storage.pairing
    const resuming = codeGiven === undefined && args.values.new !== true && record?.role === 'sender'
    const code = resuming ? undefined : codeGiven ?? generateCode()
    // A code that was used, spent its guesses or expired is refused before it is shown again.
    if (code !== undefined) await new CodeBudgets(storage.journal).check(code).catch(async err => { await storage.close(); throw deadCode(err, code) })
    const nameplate = code?.nameplate ?? record?.nameplate ?? ''
    // A restarted sender listens where it listened before unless told otherwise.
    let transport = parseTransport(transportGiven, (resuming ? choiceCovering(record?.addrs ?? []) : undefined) ?? (web ? 'auto' : 'tcp'))
    // A sender restarted with --web after a TCP-only start still offers WebRTC: the browser needs it.
    if (web && transport === 'tcp') transport = 'auto'
    const iceServers = parseIceServers(optionalString(args, 'ice-servers'))
    const listenGiven = parseListen(optionalString(args, 'listen'))
    const listen = resuming ? listenGiven ?? previousListen(record?.addrs ?? [], transport) : listenGiven
    const phone = await openPhone(storage, {
      storeDir,
      listen,
      transport,
      iceServers,
      mdnsNameplate: args.values['no-mdns'] === true || nameplate === '' ? false : nameplate,
      previousAddrs: resuming ? record?.addrs : undefined
    })
    // While the user types the code on the other phone, the history can come off the disk.
    phone.store.prefetch()
    let responder: DiscoveryResponder | undefined
    let page: PageServer | undefined
    let pageMovedFrom: number | undefined
    try {
      const host = args.values['no-sweep'] === true || nameplate === '' ? undefined : discoveryHost(listen ?? defaultListen(transport, 'sender'))
      responder = host === undefined ? undefined : await startResponder({ nameplate, host, answer: () => ({ peer: phone.ferry.peerId, addrs: dialableAddresses(phone.node).map(String) }) })
      // Served for as long as this offer is open, on the address the link names.
      if (web) {
        const addrs = dialableAddresses(phone.node)
        const at = pageHost(addrs)
        // Resuming, where the page was when its phone paired: the browser's storage belongs to that origin.
        const served = await serveKeptPage(storage.journal, { peer: resuming ? record?.peerId : undefined, host: at, given: webPort, addrs: addrs.map(String) })
        page = served.page
        pageMovedFrom = served.movedFrom
      }
    } catch (err) {
      await responder?.close()
      await phone.close()
      throw err
    }
    reportConnections(phone, json)
    const expired = codeGiven === undefined && storage.expiredPairing?.role === 'sender' ? storage.expiredPairing : undefined
    if (expired !== undefined) {
      // Said, so nobody waits for the old new phone to come back: it cannot.
      if (json) jsonEvent('pairing-expired', { peer: expired.peerId, lastUsedAt: new Date(expired.lastUsedAt ?? expired.createdAt).toISOString() })
      else process.stderr.write(`The pairing with ${expired.peerId} expired (unused for 24 hours): it can no longer resume. Showing a new code.\n`)
    }
    const printer = eventPrinter(json, 'sending  ', 'the new phone')
    // The timeout bounds the wait for a pairing, never a transfer under way. A code with no phone paired
    // before ends the offer itself when it expires (CODE_EXPIRED), so by default nothing else does:
    // a timer of the code's own ten minutes would race it and say NO_PEER instead.
    const deadline = new AbortController()
    const codeEndsIt = code !== undefined && record?.role !== 'sender'
    const timer = timeoutGiven || !codeEndsIt ? setTimeout(() => deadline.abort(), timeoutMs) : undefined
    let remembering: Promise<void> | undefined
    const onEvent = (e: Parameters<typeof printer.onEvent>[0]): void => {
      if (e.type === 'paired') clearTimeout(timer)
      if (e.type === 'paired' && e.mode === 'code' && page !== undefined) remembering = rememberPagePort(storage.journal, { peer: e.peer, host: page.host, port: page.port })
      printer.onEvent(e)
    }
    let interrupted = false
    const onSignal = (signal: NodeJS.Signals): void => {
      interrupted = true
      sayStopped(printer, json, `Run ${commandLine('send', args, ['code', 'code-file', 'new'])} again to carry on: a phone already paired reconnects without a code.`, signal)
      void Promise.resolve(remembering).then(async () => await Promise.all([phone.close(), responder?.close(), page?.close()])).then(() => process.exit(exitOnSignal(signal)))
    }
    const stopListening = onStop(onSignal)
    try {
      const addrs = dialableAddresses(phone.node).map(String)
      const noLan = noLanNote(addrs, listen ?? defaultListen(transport, 'sender'))
      // A new key each run: the QR code it shows pairs outside the typed code's three guesses.
      const qrKey = code !== undefined ? generateQrKey() : undefined
      if (code !== undefined) {
        const qr = buildQrPayload({ code, key: qrKey, peerId: phone.ferry.peerId, addrs: pickOffered(addrs, MAX_QR_ADDRS) })
        const pageUrl = page !== undefined ? pageLink(page, { code, qrKey, peerId: phone.ferry.peerId, addrs }) : undefined
        if (json) {
          jsonEvent('code', { code: formatCode(code), qr, peerId: phone.ferry.peerId, addrs, transport, webrtc: addrs.filter(a => kindOf(a) === 'webrtc'), discoveryPort: responder?.port, page: pageUrl })
        } else if (pageUrl !== undefined) {
          process.stderr.write(`\nPairing code:  ${formatCode(code)}\n\nOn the new phone, scan this with the camera: it opens the browser phone, which receives the history.\n`)
          qrcode.generate(pageUrl, { small: true }, (q: string) => process.stderr.write(q + '\n'))
          process.stderr.write(`${pageUrl}\n\nWithout a camera: open ${page!.url} in the new phone's browser and type the code.\n` +
            `Listening on ${addrs.join(', ')}${responder !== undefined ? `; discovery port ${responder.port}` : ''}\n`)
        } else {
          // With mDNS and the discovery port both off nothing can find this phone: the line names where it listens.
          const found = args.values['no-mdns'] !== true || responder !== undefined ? '' : ` --no-mdns --peer ${pickOffered(addrs, MAX_QR_ADDRS).join(',')}`
          process.stderr.write(`\nPairing code:  ${formatCode(code)}\n\nOn the new phone run:  ferry receive --store <dir>${found}   and type the code,\nor scan:\n`)
          qrcode.generate(qr, { small: true }, (q: string) => process.stderr.write(q + '\n'))
          process.stderr.write(`${qr}\n\nListening on ${addrs.join(', ')}${responder !== undefined ? `; discovery port ${responder.port}` : ''}\n`)
        }
      } else if (json) {
        if (page !== undefined && pageMovedFrom !== undefined) jsonEvent('page-moved', { was: withPort(page.url, pageMovedFrom), page: page.url })
        jsonEvent('resuming', { peer: record?.peerId, peerId: phone.ferry.peerId, addrs, transport, webrtc: addrs.filter(a => kindOf(a) === 'webrtc'), discoveryPort: responder?.port, page: page?.url })
      } else {
        process.stderr.write(`Waiting for ${record?.peerId} to reconnect (resume), listening on ${addrs.join(', ')}\n` +
          'To send to another phone instead (this one was lost or reset), stop and run ferry send again with --new.\n')
        if (page !== undefined && pageMovedFrom !== undefined) {
          process.stderr.write(`The browser phone was served on port ${pageMovedFrom} when the new phone paired, and that port is taken now: it is served at ${page.url} instead,\n` +
            `where the new phone's browser holds nothing of this transfer. To carry on where it stopped, free port ${pageMovedFrom} and run ferry send again.\n`)
        } else if (page !== undefined) process.stderr.write(`The browser phone is served at ${page.url} (it carries on by itself once reloaded).\n`)
      }
      if (noLan !== undefined) {
        if (json) jsonEvent('no-lan', { network: noLan.network, message: noLan.note })
        else process.stderr.write(`${noLan.note}\n`)
      }
      const p = await phone.ferry.offer({ code, qrKey, selection, maxBytesPerSecond, onEvent, signal: deadline.signal }).catch(async err => {
        // Ctrl-C stopped the phone, which ends its offer: the handler has said goodbye and exits.
        if (interrupted) return await new Promise<never>(() => {})
        if (deadline.signal.aborted) {
          throw new FerryError(ErrorCode.NO_PEER, `no phone paired within ${timeoutMs / 1000} s` +
            (resuming ? ` (${record?.peerId} did not come back; ferry send --new shows a code for another phone)` : ''))
        }
        throw code !== undefined ? expiredUnused(err, code, codeGiven !== undefined) : err
      })
      printer.stop()
      if (!json) {
        process.stderr.write(`Done: the new phone verified ${p.totalMessages} messages and ${formatBytes(p.totalMediaBytes)} of media.\n`)
      }
      return EXIT_OK
    } finally {
      clearTimeout(timer)
      stopListening()
      printer.stop()
      await remembering
      await page?.close()
      await responder?.close()
      await phone.close()
    }
  }
}

export default send

/** `url` on another port. */
function withPort (url: string, port: number): string {
  const u = new URL(url)
  u.port = String(port)
  return u.href
}

/** A code that aged out while shown, with no phone paired: which code, and how to get a new one. */
function expiredUnused (err: unknown, code: PairingCode, given: boolean): unknown {
  if (!isFerryError(err, ErrorCode.CODE_EXPIRED) || err.details?.state !== 'expired') return err
  return new FerryError(ErrorCode.CODE_EXPIRED, `the code ${formatCode(code)} expired: ten minutes have passed since it was first shown, and no phone paired with it; run ferry send again${given ? ' without --code' : ''} for a new one`, err.details, { cause: err })
}

/** A dead code as the person who typed it reads it: which code, and how to get a new one. */
function deadCode (err: unknown, code: PairingCode): unknown {
  if (!isFerryError(err, ErrorCode.CODE_EXPIRED) || typeof err.details?.why !== 'string') return err
  return new FerryError(ErrorCode.CODE_EXPIRED, `the code ${formatCode(code)} ${err.details.why}; a code is good for one pairing: start again without --code for a new one`, err.details, { cause: err })
}
