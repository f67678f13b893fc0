// Manual control of the Wi-Fi testbed (see scripts/lib/netns.ts):
//
//   tsx scripts/netns.ts check                          can namespaces be made here, and if not why
//   tsx scripts/netns.ts up [--phones N]                make a testbed that stays until `down`; prints it as JSON
//   tsx scripts/netns.ts list                           testbeds on this machine
//   tsx scripts/netns.ts exec <id> <phone> -- cmd ...   run a command in phone N's namespace (stdio inherited)
//   tsx scripts/netns.ts shape <id> <phone> [--rate MBIT] [--loss P]   shape phone N's link; no options: clear
//   tsx scripts/netns.ts down [<id> | --all]            remove a testbed (or all of them)
//   tsx scripts/netns.ts cleanup                        remove testbeds left by crashed processes
import { spawn } from 'node:child_process'
import {
  checkNetnsSupport, cleanupStale, createTestbed, listTestbeds, NetnsError, openTestbed, removeTestbed, type Testbed
} from './lib/netns.js'

function usage (): never {
  process.stderr.write('usage: netns.ts check | up [--phones N] | list | exec <id> <phone> -- cmd... | shape <id> <phone> [--rate MBIT] [--loss P] | down [<id>|--all] | cleanup\n')
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
      const tb = await createTestbed({ phones, lifetime: 'manual' })
      process.stdout.write(JSON.stringify({ id: tb.id, bridge: tb.bridgeNs, subnet: `${tb.subnet}.0/24`, phones: tb.phones }, null, 2) + '\n')
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
