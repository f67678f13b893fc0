// Manual control of the Wi-Fi testbed (see scripts/lib/netns.ts):
//
//   tsx scripts/netns.ts check                          can namespaces be made here, and if not why
//   tsx scripts/netns.ts up [--phones N] [--routed]     make a testbed that stays until `down`; prints it as JSON
//                                                       (--routed: phone-to-phone traffic goes through the access point)
//   tsx scripts/netns.ts list                           testbeds on this machine
//   tsx scripts/netns.ts exec <id> <phone> -- cmd ...   run a command in phone N's namespace (stdio inherited)
//   tsx scripts/netns.ts shape <id> <phone> [--rate MBIT] [--loss P]   shape phone N's link; no options: clear
//   tsx scripts/netns.ts link <id> <phone> down|up      the access point drops phone N / takes it back
//   tsx scripts/netns.ts ip <id> <phone> [ADDR]         give phone N a new address (default: a free one)
//   tsx scripts/netns.ts relay <id> <phone> <port> [--delay MIN-MAX]   delay TCP to phone N's port through the
//                                                       access point (routed testbeds; runs until Ctrl-C)
//   tsx scripts/netns.ts multicast <id> <phone> off|on  phone N's firewall drops multicast (no mDNS) / lets it through
//   tsx scripts/netns.ts isolate <id> on|off            the access point keeps clients apart (unicast dropped,
//                                                       multicast flows) / lets them talk again
//   tsx scripts/netns.ts iface <id> <phone> [--name tun0] [--default-route] [--multicast-route]
//                                                       give phone N a second interface, like a VPN's tun device
//   tsx scripts/netns.ts down [<id> | --all]            remove a testbed (or all of them)
//   tsx scripts/netns.ts cleanup                        remove testbeds left by crashed processes
import { spawn } from 'node:child_process'
import {
  checkNetnsSupport, cleanupStale, createTestbed, listTestbeds, NetnsError, openTestbed, removeTestbed, type Testbed
} from './lib/netns.js'

function usage (): never {
  process.stderr.write('usage: netns.ts check | up [--phones N] [--routed] | list | exec <id> <phone> -- cmd... | shape <id> <phone> [--rate MBIT] [--loss P] |\n' +
    '       link <id> <phone> down|up | ip <id> <phone> [ADDR] | relay <id> <phone> <port> [--delay MIN-MAX] |\n' +
    '       multicast <id> <phone> off|on | isolate <id> on|off | iface <id> <phone> [--name NAME] [--default-route] [--multicast-route] |\n' +
    '       down [<id>|--all] | cleanup\n')
  process.exit(2)
}

function flag (args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const v = args[i + 1]
  if (v === undefined) usage()
  return v
}

function phoneOf (tb: Testbed, arg: string | undefined): Testbed['phones'][number] {
  const p = tb.phones.find(p => String(p.index) === arg || p.ns === arg)
  if (p === undefined) throw new NetnsError(`no phone '${arg ?? ''}' in ${tb.id} (have ${tb.phones.map(p => p.index).join(', ')})`)
  return p
}

async function main (argv: string[]): Promise<number> {
  const [cmd, ...args] = argv
  switch (cmd) {
    case 'check': {
      const s = await checkNetnsSupport()
      process.stdout.write(s.ok ? 'ok: network namespaces can be made here\n' : `unavailable: ${s.reason ?? ''}\n`)
      return s.ok ? 0 : 1
    }
    case 'up': {
      const phones = Number(flag(args, '--phones') ?? '2')
      const tb = await createTestbed({ phones, lifetime: 'manual', routed: args.includes('--routed') })
      process.stdout.write(JSON.stringify({ id: tb.id, bridge: tb.bridgeNs, subnet: `${tb.subnet}.0/24`, gateway: tb.gateway, phones: tb.phones }, null, 2) + '\n')
      return 0
    }
    case 'list': {
      for (const id of await listTestbeds()) {
        const tb = await openTestbed(id).catch(() => undefined)
        process.stdout.write(`${id}${tb !== undefined ? `  ${tb.phones.map(p => `${p.ns}=${p.ip}`).join('  ')}` : ''}\n`)
      }
      return 0
    }
    case 'exec': {
      const sep = args.indexOf('--')
      if (args.length < 2 || sep < 0 || sep === args.length - 1) usage()
      const tb = await openTestbed(args[0])
      const phone = phoneOf(tb, args[1])
      const child = spawn('ip', ['netns', 'exec', phone.ns, ...args.slice(sep + 1)], { stdio: 'inherit' })
      return await new Promise<number>(resolve => {
        child.on('exit', (code, signal) => resolve(code ?? (signal !== null ? 128 : 1)))
        child.on('error', err => { process.stderr.write(`${err.message}\n`); resolve(1) })
      })
    }
    case 'shape': {
      if (args.length < 2) usage()
      const tb = await openTestbed(args[0])
      const phone = phoneOf(tb, args[1])
      const rate = flag(args, '--rate')
      const loss = flag(args, '--loss')
      if (rate === undefined && loss === undefined) await tb.unshape(phone)
      else await tb.shape(phone, { rateMbit: rate !== undefined ? Number(rate) : undefined, loss: loss !== undefined ? Number(loss) : undefined })
      return 0
    }
    case 'link': {
      if (args.length < 3 || !['down', 'up'].includes(args[2])) usage()
      const tb = await openTestbed(args[0])
      const phone = phoneOf(tb, args[1])
      await (args[2] === 'down' ? tb.linkDown(phone) : tb.linkUp(phone))
      return 0
    }
    case 'ip': {
      if (args.length < 2) usage()
      const tb = await openTestbed(args[0])
      const phone = phoneOf(tb, args[1])
      const old = phone.ip
      await tb.setIp(phone, args[2] ?? tb.freeIp())
      process.stdout.write(`${phone.ns}: ${old} -> ${phone.ip}\n`)
      return 0
    }
    case 'relay': {
      if (args.length < 3) usage()
      const tb = await openTestbed(args[0])
      const phone = phoneOf(tb, args[1])
      const [lo, hi] = (flag(args, '--delay') ?? '2-5').split('-').map(Number)
      const relay = await tb.startRelay({ delayMs: [lo, hi ?? lo] })
      const port = await relay.forward(phone, Number(args[2]))
      process.stdout.write(`TCP to ${phone.ip}:${args[2]} now goes through the relay (port ${port} in ${tb.bridgeNs}), ${lo}-${hi ?? lo} ms each way; Ctrl-C to stop\n`)
      await new Promise<void>(resolve => process.once('SIGINT', () => resolve()))
      await relay.stop()
      return 0
    }
    case 'multicast': {
      if (args.length < 3 || !['off', 'on'].includes(args[2])) usage()
      const tb = await openTestbed(args[0])
      await tb.multicast(phoneOf(tb, args[1]), args[2] === 'on')
      return 0
    }
    case 'isolate': {
      if (args.length < 2 || !['on', 'off'].includes(args[1])) usage()
      const tb = await openTestbed(args[0])
      await tb.isolate(args[1] === 'on')
      return 0
    }
    case 'iface': {
      if (args.length < 2) usage()
      const tb = await openTestbed(args[0])
      const phone = phoneOf(tb, args[1])
      const added = await tb.addInterface(phone, { name: flag(args, '--name'), defaultRoute: args.includes('--default-route'), multicastRoute: args.includes('--multicast-route') })
      process.stdout.write(`${phone.ns}: ${added.name} ${added.ip} on ${added.subnet} (far end in ${added.ns})\n`)
      return 0
    }
    case 'down': {
      const ids = args[0] === '--all' ? await listTestbeds() : args[0] !== undefined ? [args[0]] : await listTestbeds()
      if (args[0] === undefined && ids.length > 1) {
        process.stderr.write(`several testbeds: ${ids.join(', ')}; name one or pass --all\n`)
        return 2
      }
      for (const id of ids) { await removeTestbed(id); process.stdout.write(`removed ${id}\n`) }
      return 0
    }
    case 'cleanup': {
      for (const id of await cleanupStale()) process.stdout.write(`removed stale ${id}\n`)
      return 0
    }
    default:
      return usage()
  }
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, err => {
  process.stderr.write(`netns: ${(err as Error).message}\n`)
  process.exitCode = 1
})
