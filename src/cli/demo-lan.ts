import { execFile, execFileSync } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { pidAlive } from '../pid-alive.js'

/**
 * The demo's simulated Wi-Fi: two phones, each in its own Linux network namespace, joined by veth pairs
 * to a bridge in a third, with private 10.x addresses. Nothing touches the machine's real interfaces, so
 * mDNS stays on the bridge.
 *
 * Names follow the test bed's (scripts/lib/netns.ts), `ferry-p<pid>r<rand>-<role>`, so its clean-up of
 * a crashed run recognises them too. This module only uses what is there: it never installs anything.
 */
export interface DemoPhone { ns: string, ip: string }

export interface DemoLan {
  /** The namespaces' common prefix. */
  readonly id: string
  readonly phones: [DemoPhone, DemoPhone]
  /** Makes a phone's firewall drop multicast both ways (an Android phone without a multicast lock). */
  dropMulticast: (phone: DemoPhone) => Promise<void>
  down: () => Promise<void>
}

/** Why the demo cannot drop multicast here (it needs iptables), or undefined when it can. */
export function multicastDropUnavailable (): string | undefined {
  return onPath('iptables') ? undefined : "dropping multicast needs 'iptables', which is not installed"
}

const run = promisify(execFile)

async function ip (args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 30_000 })).stdout
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: err })
  }
}

function onPath (cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some(dir => {
    try {
      accessSync(join(dir, cmd), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/**
 * Why the demo cannot make its LAN here, or undefined when it can (Linux, iproute2, and the right to
 * make namespaces, veths and bridges: tried with a throwaway namespace).
 */
export async function demoLanUnavailable (): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (!onPath('ip')) return "the 'ip' command (iproute2) is not installed"
  const ns = `ferry-p${process.pid}probe${randomBytes(2).toString('hex')}-x`
  try {
    await ip(['netns', 'add', ns])
  } catch (err) {
    const hint = /permission|not permitted|EPERM|EACCES/i.test((err as Error).message) ? ' (it needs root or CAP_NET_ADMIN)' : ''
    return `cannot create a network namespace${hint}`
  }
  try {
    await ip(['-n', ns, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb'])
    await ip(['-n', ns, 'link', 'add', 'br0', 'type', 'bridge'])
    return undefined
  } catch {
    return 'network namespaces work here but veth pairs or bridges do not'
  } finally {
    await ip(['netns', 'del', ns]).catch(() => {})
  }
}

async function freeSubnet (): Promise<string> {
  const used = await ip(['-4', 'addr', 'show']).catch(() => '') + await ip(['-4', 'route', 'show', 'table', 'all']).catch(() => '')
  for (let i = 0; i < 64; i++) {
    const s = `10.${randomInt(64, 251)}.${randomInt(0, 256)}`
    if (!used.includes(`${s}.`)) return s
  }
  throw new Error('found no free 10.x.y.0/24 for the demo LAN')
}

/** Deletes the LAN's namespaces, killing whatever still runs in them (the demo's own phones). */
function removeSync (namespaces: string[]): void {
  for (const ns of namespaces) {
    try {
      for (const pid of execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number)) {
        if (pid !== process.pid) try { process.kill(pid, 'SIGKILL') } catch {}
      }
    } catch {}
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
  }
}

/**
 * Namespaces named for a process that is gone: a demo (or a test bed) killed where it had no chance to
 * clean up, e.g. by SIGKILL. Each holds veths and maybe that run's phones, still listening.
 */
export async function staleNamespaces (): Promise<string[]> {
  const list = await ip(['netns', 'list']).catch(() => '')
  return list.split('\n').map(l => l.trim().split(/\s+/)[0]).filter(ns => {
    const m = /^ferry-p(\d+)\D/.exec(ns)
    return m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))
  })
}

/**
 * Makes the LAN, first removing what killed runs left; on any failure removes whatever part of it was
 * made. It is removed on exit at the latest.
 */
export async function createDemoLan (): Promise<DemoLan> {
  removeSync(await staleNamespaces())
  const id = `ferry-p${process.pid}r${randomBytes(3).toString('hex')}`
  const subnet = await freeSubnet()
  const bridge = `${id}-br`
  const phones: [DemoPhone, DemoPhone] = [{ ns: `${id}-p1`, ip: `${subnet}.11` }, { ns: `${id}-p2`, ip: `${subnet}.12` }]
  const made: string[] = []
  // Synchronous on 'exit': the last chance when the demo ends abruptly.
  const onExit = (): void => { removeSync(made) }
  process.on('exit', onExit)
  const down = async (): Promise<void> => {
    removeSync(made.splice(0))
    process.off('exit', onExit)
  }
  try {
    await ip(['netns', 'add', bridge])
    made.push(bridge)
    await ip(['-n', bridge, 'link', 'set', 'lo', 'up'])
    // No IGMP querier lives on this bridge; snooping would then drop multicast to ports it has not
    // learnt. Flooding is what a home access point does for mDNS anyway.
    await ip(['-n', bridge, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0'])
    await ip(['-n', bridge, 'link', 'set', 'br0', 'up'])
    for (const [i, p] of phones.entries()) {
      const port = `p${i + 1}`
      await ip(['netns', 'add', p.ns])
      made.push(p.ns)
      // Made inside the bridge's namespace with the peer end created straight in the phone's: no
      // interface ever appears in the machine's own namespace.
      await ip(['-n', bridge, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.ns])
      await ip(['-n', bridge, 'link', 'set', port, 'master', 'br0'])
      await ip(['-n', bridge, 'link', 'set', port, 'up'])
      await ip(['-n', p.ns, 'link', 'set', 'lo', 'up'])
      await ip(['-n', p.ns, 'addr', 'add', `${p.ip}/24`, 'dev', 'eth0'])
      await ip(['-n', p.ns, 'link', 'set', 'eth0', 'up'])
      // mDNS sends on the interface the route to 224.0.0.251 names; with no default route there is none.
      await ip(['-n', p.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
    }
  } catch (err) {
    await down()
    throw err
  }
  const dropMulticast = async (p: DemoPhone): Promise<void> => {
    for (const chain of [['OUTPUT', '-d'], ['INPUT', '-d']]) {
      await run('ip', ['netns', 'exec', p.ns, 'iptables', '-A', chain[0], chain[1], '224.0.0.0/4', '-j', 'DROP'], { timeout: 30_000 })
    }
  }
  return { id, phones, dropMulticast, down }
}
