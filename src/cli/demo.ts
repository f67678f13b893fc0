import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { EXIT_FAILED, EXIT_OK, exitOnSignal, onStop, optionalString, type Command } from './command.js'
import { FerryProcess, type FerryJsonEvent } from './ferry-process.js'
import { formatBytes } from '../format-bytes.js'
import { terminalProgress, type ProgressSnapshot, type ProgressView } from './progress.js'
import { cell } from './text-width.js'
import { SqliteChatStore } from '../store/sqlite-store.js'
import { seedStore } from '../sim/seed.js'
import { getProfile, PROFILE_NAMES } from '../sim/profiles.js'
import { formatCode, generateCode } from '../pairing/index.js'
import { createDemoLan, demoLanUnavailable, multicastDropUnavailable, type DemoLan } from './demo-lan.js'
import { ErrorCode, FerryError } from '../errors.js'
import { runWebDemo, webDemoUnavailable } from './demo-web.js'
import { demoFolderPrefix } from './demo-folder.js'

const say = (s: string): void => { process.stderr.write(s + '\n') }

const demo: Command = {
  name: 'demo',
  summary: 'move a simulated history between two phones end to end',
  help: `Usage: ferry demo [--profile ${PROFILE_NAMES.join('|')}]
                  [--no-multicast | --loopback | --web [--screenshot FILE]]

Seeds an old phone, then runs 'ferry send' and 'ferry receive' as two real processes that pair with a
code and move the history. Where it can (Linux, root, iproute2 installed), each phone gets its own
network namespace on a private bridge, a simulated Wi-Fi, and they find each other by mDNS (or, with
--no-multicast, which needs iptables, by the subnet sweep); otherwise (it says why) or with --loopback
they run on loopback with mDNS and the sweep off and the receiver is handed the sender's QR payload, as a
scan would. Installs nothing; cleans up every namespace, process and file it made (those of a demo
killed outright, SIGKILL, the next demo removes).

Options:
  --profile NAME   history size: ${PROFILE_NAMES.join(', ')}, as 'ferry seed --help' lists them
                   (default small: 20 chats, 20k messages, 100 MB media)
  --no-multicast   both phones drop multicast, as many Android phones and routers do: the new phone
                   finds the old one by sweeping its subnet instead of by mDNS
  --loopback       skip the namespaces even where they could be made
  --web            the new phone has nothing installed: the old phone runs 'ferry send --web' and the
                   new phone is a headless Chromium (/usr/bin/chromium, driven by playwright-core from
                   the repository's dev dependencies) that opens the link of its QR code, pairs by
                   itself and receives into the browser. Needs the simulated Wi-Fi
  --screenshot F   with --web: where to save the picture of the page at the end
                   (default: ferry-demo-web.png in the system's temp directory)

Exit codes: 0 moved and verified, 1 the transfer failed, 2 bad usage (an unknown profile, or an
option this machine cannot run), 130 stopped with Ctrl-C, 143 by kill, 129 by the terminal
closing (the namespaces and folders it made are removed).`,
  options: { profile: { type: 'string' }, loopback: { type: 'boolean' }, 'no-multicast': { type: 'boolean' }, web: { type: 'boolean' }, screenshot: { type: 'string' } },
  async run (args) {
    const profile = getProfile(optionalString(args, 'profile') ?? 'small')
    const dir = mkdtempSync(demoFolderPrefix())
    const oldPhone = join(dir, 'old-phone')
    const newPhone = join(dir, 'new-phone')
    let lan: DemoLan | undefined
    const procs: FerryProcess[] = []
    // The bar on show, if any: a stop must give the terminal back its cursor and line wrap.
    const shown: { bar?: ProgressView } = {}
    const cleanup = async (): Promise<void> => {
      for (const p of procs) p.kill()
      await lan?.down()
      rmSync(dir, { recursive: true, force: true })
    }
    // Ctrl-C, `kill`, `timeout` and a closed terminal all end the demo, and each must leave nothing behind:
    // a signal's default action would end the process before any clean-up ran.
    const stopListening = onStop(signal => {
      // After SIGHUP nobody reads the terminal, and writing to it may fail: clean up without a word.
      const speak = signal !== 'SIGHUP'
      if (speak) {
        shown.bar?.stop()
        // Stopping the phones and removing a large store takes seconds: say so now, and "removed" once it is.
        say('\nStopping: removing the phones, namespaces and files the demo made...')
      }
      shown.bar = undefined
      void cleanup().then(() => { if (speak) say('Stopped: the demo is over, and nothing it made is left.') }).finally(() => process.exit(exitOnSignal(signal)))
    })
    try {
      const noMulticast = args.values['no-multicast'] === true
      if (noMulticast && args.values.loopback === true) throw new FerryError(ErrorCode.BAD_INPUT, '--no-multicast and --loopback do not go together: on loopback there is no multicast to drop')
      const unavailable = noMulticast ? (await demoLanUnavailable()) ?? multicastDropUnavailable() : undefined
      if (unavailable !== undefined) throw new FerryError(ErrorCode.BAD_INPUT, `--no-multicast needs the simulated Wi-Fi, and there is none here (${unavailable})`)
      const web = args.values.web === true
      if (web && (noMulticast || args.values.loopback === true)) throw new FerryError(ErrorCode.BAD_INPUT, '--web goes with neither --loopback (a page from 127.0.0.1 is a secure context, which a phone on the Wi-Fi never gets) nor --no-multicast (the page finds nothing: it opens a link)')
      if (!web && args.values.screenshot !== undefined) throw new FerryError(ErrorCode.BAD_INPUT, '--screenshot goes with --web')
      if (web) {
        const why = (await demoLanUnavailable()) ?? await webDemoUnavailable()
        if (why !== undefined) throw new FerryError(ErrorCode.BAD_INPUT, `--web needs the simulated Wi-Fi and Chromium, and ${why}`)
      }
      say(`Seeding the old phone (${profile.name} profile)...`)
      const store = SqliteChatStore.open(oldPhone, { create: true })
      const seeded = await seedStore(store, profile.name, 1)
      store.close()
      say(`  ${seeded.conversations} chats, ${seeded.messages} messages, ${seeded.mediaFiles} media files (${formatBytes(seeded.mediaBytes)})`)

      let noLan = args.values.loopback === true ? '--loopback' : await demoLanUnavailable()
      if (noLan === undefined) {
        try {
          lan = await createDemoLan()
        } catch (err) {
          noLan = `making the simulated Wi-Fi failed: ${(err as Error).message}`
        }
      }
      const code = formatCode(generateCode())
      if (web) {
        if (lan === undefined) throw new FerryError(ErrorCode.INTERNAL, `--web needs the simulated Wi-Fi: ${noLan ?? 'unknown'}`)
        return await runWebDemo({ lan, oldPhone, code, scratch: dir, screenshot: resolve(optionalString(args, 'screenshot') ?? join(tmpdir(), 'ferry-demo-web.png')), procs, say, shown })
      }
      let sender: FerryProcess
      let receiver: FerryProcess
      if (lan !== undefined) {
        const [a, b] = lan.phones
        say(`Two phones on a simulated Wi-Fi: ${a.ip} (old) and ${b.ip} (new), bridged in namespaces ${lan.id}-*`)
        if (noMulticast) {
          for (const p of lan.phones) await lan.dropMulticast(p)
          say('Both phones drop multicast: no mDNS gets through.')
        }
        const env = { FERRY_MDNS_NETNS_ONLY: '1' }
        sender = new FerryProcess(['send', '--store', oldPhone, '--code', code, '--json'], { wrap: ['ip', 'netns', 'exec', a.ns], env })
        procs.push(sender)
        await sender.waitFor(e => e.event === 'code')
        say(`The old phone shows the code ${code}; the new phone types it and looks for it...`)
        receiver = new FerryProcess(['receive', '--store', newPhone, '--code', code, '--json'], { wrap: ['ip', 'netns', 'exec', b.ns], env })
      } else {
        say(`No network namespaces here (${noLan}): both phones on loopback, mDNS off, the QR payload handed over.`)
        // No mDNS and no sweep outside a namespace: nothing leaves this machine.
        const env = { FERRY_MDNS_NETNS_ONLY: '1' }
        sender = new FerryProcess(['send', '--store', oldPhone, '--code', code, '--no-mdns', '--no-sweep', '--listen', '/ip4/127.0.0.1/tcp/0', '--json'], { env })
        procs.push(sender)
        const shown = await sender.waitFor(e => e.event === 'code')
        say(`The old phone shows the code ${code} and a QR code; the new phone scans it...`)
        receiver = new FerryProcess(['receive', '--store', newPhone, '--qr', String(shown.qr), '--no-mdns', '--no-sweep', '--json'], { env })
      }
      procs.push(receiver)
      const t0 = performance.now()
      const discovered = await receiver.waitFor(e => e.event === 'discovered' || e.event === 'paired')
      const how: Record<string, string> = { mdns: 'by mDNS', sweep: `by sweeping the subnet (at ${String(discovered.host)})`, qr: 'from the QR code', peer: 'from --peer' }
      if (discovered.event === 'discovered') say(`  found the old phone ${how[String(discovered.via)] ?? ''} in ${Math.round(performance.now() - t0)} ms`)
      await receiver.waitFor(e => e.event === 'paired')
      say(`  paired (CPace) in ${Math.round(performance.now() - t0)} ms`)
      const bar = shown.bar = terminalProgress('moving', process.stderr, { phases: true })
      let seen = 0
      const done = receiver.exited
      for (;;) {
        const verified = receiver.events.find(e => e.event === 'verified')
        for (const e of receiver.events.slice(seen)) if (e.event === 'progress') bar.update(e as unknown as ProgressSnapshot)
        seen = receiver.events.length
        if (verified !== undefined || receiver.child.exitCode !== null) break
        await receiver.waitFor(e => e.event === 'verified' || (e.event === 'progress' && receiver.events.indexOf(e) >= seen), 600_000).catch(() => {})
      }
      bar.stop()
      shown.bar = undefined
      const [rc, sc] = await Promise.all([done, sender.exited])
      const secs = (performance.now() - t0) / 1000
      if (rc !== 0 || sc !== 0) {
        say(`The transfer failed (receiver exit ${rc}, sender exit ${sc}):\n${receiver.stderr}${sender.stderr}`)
        return EXIT_FAILED
      }
      const v = receiver.events.find(e => e.event === 'verified') as FerryJsonEvent & { summary: Array<{ title: string, messages: number }>, progress: ProgressSnapshot }
      say(`\nVerified on the new phone: ${v.progress.totalMessages} messages and ${formatBytes(v.progress.totalMediaBytes)} of media in ${secs.toFixed(1)} s ` +
        `(${formatBytes(v.progress.totalMediaBytes / secs)}/s, ${Math.round(v.progress.totalMessages / secs)} messages/s).`)
      for (const c of v.summary.slice(0, 8)) say(`  ${cell(c.title, 24)} ${String(c.messages).padStart(6)} messages`)
      if (v.summary.length > 8) say(`  ... and ${v.summary.length - 8} more chats`)
      return EXIT_OK
    } finally {
      stopListening()
      await cleanup()
    }
  }
}

export default demo
