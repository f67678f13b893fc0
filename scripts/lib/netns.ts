import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { promisify } from 'node:util'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DelayRelayOptions, RouteStats } from './delay-relay.js'

/**
 * A Wi-Fi testbed made of Linux network namespaces: one namespace holds a bridge (the access
 * point), and each phone gets its own namespace joined to it by a veth pair, with a private 10.x
 * address. Nothing is connected to the machine's real interfaces, so multicast (mDNS) and every
 * other packet stay on the bridge.
 *
 *   [phone ns: lo, eth0 10.a.b.11] --veth-- [bridge ns: br0 <- p1, p2, ...] --veth-- [phone ns: eth0 10.a.b.12]
 *
 * Routed (`routed: true`): the access point also routes. br0 gets `<subnet>.1`, each phone a /32 with
 * the rest of the LAN behind that gateway, so unicast between phones goes up to the access point's IP
 * layer (where startRelay() can pass it through a delaying relay) while multicast (mDNS) still floods
 * across the bridge as on any Wi-Fi.
 *
 * Names: `ferry-p<pid>r<rand>-<role>` for testbeds owned by a process (removed when it exits, and
 * by cleanupStale() if it crashed), `ferry-m<rand>-<role>` for manual ones (`netns.ts up`), removed
 * only by `netns.ts down`.
 */

const run = promisify(execFile)
const NS_PREFIX = 'ferry-'

export class NetnsError extends Error {
  constructor (message: string, readonly command?: string[], options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NetnsError'
  }
}

/** Namespaces cannot be made here; `reason` says why, for a test's skip message. */
export class NetnsUnavailableError extends NetnsError {
  constructor (readonly reason: string) {
    super(`network namespaces unavailable: ${reason}`)
    this.name = 'NetnsUnavailableError'
  }
}

async function sh (argv: string[], opts: { timeout?: number } = {}): Promise<string> {
  try {
    const { stdout } = await run(argv[0], argv.slice(1), { timeout: opts.timeout ?? 30_000, maxBuffer: 16 * 1024 * 1024 })
    return stdout
  } catch (err) {
    const e = err as { stderr?: string, message: string, code?: string | number }
    const detail = (e.stderr ?? '').trim() || e.message
    throw new NetnsError(`${argv.join(' ')}: ${detail}`, argv, { cause: err })
  }
}

async function hasCommand (cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`])
    return true
  } catch {
    return false
  }
}

/**
 * Refuses with the reason when `cmd` is missing. Nothing here installs it: the test set-up step
 * (scripts/test-setup.ts, run by `npm test`) is the one place system tools are installed.
 */
export async function requireTool (cmd: string, aptPackage: string): Promise<void> {
  if (await hasCommand(cmd)) return
  throw new NetnsUnavailableError(`'${cmd}' is not installed (Debian package ${aptPackage})`)
}

export interface NetnsSupport {
  ok: boolean
  /** Why not, when !ok: printed by tests that skip. */
  reason?: string
}

let support: Promise<NetnsSupport> | undefined

/**
 * Whether this machine lets us make namespaces, veths and bridges (Linux, root or CAP_NET_ADMIN,
 * iproute2). Probes by making and deleting a throwaway namespace with a veth and a bridge in it.
 * Memoised: tests call it in every file.
 */
export async function checkNetnsSupport (): Promise<NetnsSupport> {
  support ??= probe()
  return await support
}

async function probe (): Promise<NetnsSupport> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
  try {
    await requireTool('ip', 'iproute2')
  } catch (err) {
    return { ok: false, reason: (err as Error).message }
  }
  const ns = `${NS_PREFIX}p${process.pid}probe${randomBytes(2).toString('hex')}-x`
  try {
    await sh(['ip', 'netns', 'add', ns])
  } catch (err) {
    const msg = (err as Error).message
    const hint = /permission|not permitted|EPERM|EACCES/i.test(msg) ? ' (needs root or CAP_NET_ADMIN + CAP_SYS_ADMIN)' : ''
    return { ok: false, reason: `cannot create a network namespace${hint}: ${msg}` }
  }
  try {
    await sh(['ip', '-n', ns, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb'])
    await sh(['ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge'])
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `namespaces work but veth/bridge links do not: ${(err as Error).message}` }
  } finally {
    await sh(['ip', 'netns', 'del', ns]).catch(() => {})
  }
}

export interface Phone {
  /** 1-based. */
  index: number
  /** Network namespace name, for `ip netns exec`. */
  ns: string
  /** IPv4 address on the testbed LAN. */
  ip: string
  /** The phone's interface inside its namespace. */
  ifname: string
  /** The veth end inside the bridge namespace. */
  bridgePort: string
}

export interface TestbedOptions {
  phones?: number
  /** `owned` (default): removed when this process exits. `manual`: left for `netns.ts down`. */
  lifetime?: 'owned' | 'manual'
  /** e.g. '10.123.45'; default: a random /24 in 10.64-250.x not routed in the root namespace. */
  subnet?: string
  /** Phones reach each other through the access point's IP layer (see the header); needed by startRelay. */
  routed?: boolean
}

export interface ShapeOptions {
  /** Egress rate limit on the phone's interface (tc tbf), in Mbit/s. */
  rateMbit?: number
  /** Random ingress drop probability, 0-1 (iptables statistic). */
  loss?: number
}

export interface Testbed {
  readonly id: string
  readonly bridgeNs: string
  readonly subnet: string
  readonly phones: Phone[]
  /** `ip netns exec <ns> argv...` as a child process. */
  spawn: (phone: Phone | string, argv: string[], opts?: SpawnOptions) => ChildProcess
  /** Runs a command in a namespace to completion; rejects with its stderr. */
  exec: (phone: Phone | string, argv: string[]) => Promise<string>
  shape: (phone: Phone, opts: ShapeOptions) => Promise<void>
  unshape: (phone: Phone) => Promise<void>
  /** The access point's address (routed testbeds only). */
  readonly gateway?: string
  /** The access point drops the phone (its bridge port goes down), as when it walks out of range. */
  linkDown: (phone: Phone) => Promise<void>
  linkUp: (phone: Phone) => Promise<void>
  /** The phone gets a new address on the LAN (a new DHCP lease): the old one is gone at once. */
  setIp: (phone: Phone, ip: string) => Promise<void>
  /** A free address on the LAN for setIp. */
  freeIp: () => string
  /** Starts the delaying relay in the access point (routed testbeds only). */
  startRelay: (opts: DelayRelayOptions) => Promise<RelayHandle>
  /**
   * The phone's own firewall drops multicast both ways (an Android phone without a multicast lock, a
   * router filtering mDNS for it): `false` lets it through again.
   */
  multicast: (phone: Phone, on: boolean) => Promise<void>
  /**
   * The access point keeps its clients apart (client/AP isolation): unicast from phone to phone is
   * dropped, multicast and broadcast still flow (so mDNS and ARP requests get across, ARP replies and
   * TCP do not). `false` lifts it.
   */
  isolate: (on: boolean) => Promise<void>
  /**
   * Gives a phone a second interface on a network of its own, like a VPN's tun device or a container
   * bridge: a veth to a namespace that answers nothing beyond its own address. With `defaultRoute` it
   * takes the default route; with `multicastRoute` the route for 224.0.0.0/4 too (where a phone with
   * no explicit multicast route sends mDNS), leaving the LAN only its on-link route.
   */
  addInterface: (phone: Phone, opts?: ExtraInterfaceOptions) => Promise<ExtraInterface>
  down: () => Promise<void>
}

export interface ExtraInterfaceOptions {
  /** Interface name in the phone's namespace; default `tun0`. */
  name?: string
  /** e.g. '10.123.45'; default a free /24. The phone gets .2, the far end .1. */
  subnet?: string
  defaultRoute?: boolean
  multicastRoute?: boolean
}

export interface ExtraInterface {
  name: string
  /** The phone's address on it. */
  ip: string
  subnet: string
  /** The namespace at the far end. */
  ns: string
}

function nsName (phone: Phone | string): string {
  return typeof phone === 'string' ? phone : phone.ns
}

async function pickSubnet (taken: string[] = []): Promise<string> {
  const routes = await sh(['ip', '-4', 'addr', 'show']).catch(() => '') + await sh(['ip', '-4', 'route', 'show', 'table', 'all']).catch(() => '')
  for (let i = 0; i < 64; i++) {
    const s = `10.${randomInt(64, 251)}.${randomInt(0, 256)}`
    if (!routes.includes(`${s}.`) && !taken.includes(s)) return s
  }
  throw new NetnsError('could not find a free 10.x /24')
}

const liveTestbeds = new Set<string>()
let exitHookInstalled = false

function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Synchronous on 'exit': it is the last chance after a test runner or a script ends abruptly.
  process.on('exit', () => {
    for (const id of liveTestbeds) removeTestbedSync(id)
  })
}

/** Creates a testbed; on any failure, removes whatever part of it was made. */
export async function createTestbed (opts: TestbedOptions = {}): Promise<Testbed> {
  const s = await checkNetnsSupport()
  if (!s.ok) throw new NetnsUnavailableError(s.reason ?? 'unknown')
  const n = opts.phones ?? 2
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new NetnsError(`phones must be 1-200, not ${n}`)
  await cleanupStale()

  const rand = randomBytes(3).toString('hex')
  const id = opts.lifetime === 'manual' ? `${NS_PREFIX}m${rand}` : `${NS_PREFIX}p${process.pid}r${rand}`
  const subnet = opts.subnet ?? await pickSubnet()
  const bridgeNs = `${id}-br`
  const phones: Phone[] = []
  const gateway = opts.routed === true ? `${subnet}.1` : undefined
  if (opts.lifetime !== 'manual') { liveTestbeds.add(id); installExitHook() }

  try {
    await sh(['ip', 'netns', 'add', bridgeNs])
    await sh(['ip', '-n', bridgeNs, 'link', 'set', 'lo', 'up'])
    // No IGMP querier lives on this bridge; snooping would then drop multicast to ports it has not
    // learnt. Flooding is what a home access point does for mDNS anyway.
    await sh(['ip', '-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0'])
    await sh(['ip', '-n', bridgeNs, 'link', 'set', 'br0', 'up'])
    if (gateway !== undefined) {
      await sh(['ip', '-n', bridgeNs, 'addr', 'add', `${gateway}/24`, 'dev', 'br0'])
      // Forwarding back out of the interface a packet came in on: the kernel would tell the phone to go
      // direct (an ICMP redirect), bypassing the relay. sysctls under net.ipv4 are per namespace.
      await sh(['ip', 'netns', 'exec', bridgeNs, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1',
        'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.default.send_redirects=0', 'net.ipv4.conf.br0.send_redirects=0'])
    }
    for (let i = 1; i <= n; i++) {
      const p: Phone = { index: i, ns: `${id}-p${i}`, ip: `${subnet}.${10 + i}`, ifname: 'eth0', bridgePort: `p${i}` }
      await sh(['ip', 'netns', 'add', p.ns])
      phones.push(p)
      // Made inside the bridge namespace with the peer end created straight in the phone's: no
      // interface ever appears in the root namespace.
      await sh(['ip', '-n', bridgeNs, 'link', 'add', p.bridgePort, 'type', 'veth', 'peer', 'name', p.ifname, 'netns', p.ns])
      await sh(['ip', '-n', bridgeNs, 'link', 'set', p.bridgePort, 'master', 'br0'])
      await sh(['ip', '-n', bridgeNs, 'link', 'set', p.bridgePort, 'up'])
      await sh(['ip', '-n', p.ns, 'link', 'set', 'lo', 'up'])
      await sh(['ip', '-n', p.ns, 'addr', 'add', `${p.ip}/${gateway !== undefined ? 32 : 24}`, 'dev', p.ifname])
      await sh(['ip', '-n', p.ns, 'link', 'set', p.ifname, 'up'])
      if (gateway !== undefined) {
        await sh(['ip', '-n', p.ns, 'route', 'add', `${gateway}/32`, 'dev', p.ifname])
        await sh(['ip', '-n', p.ns, 'route', 'add', `${subnet}.0/24`, 'via', gateway, 'dev', p.ifname])
      }
      // multicast-dns sends on the interface the route to 224.0.0.251 names; with no default route
      // there is none, and every send fails with ENETUNREACH.
      await sh(['ip', '-n', p.ns, 'route', 'add', '224.0.0.0/4', 'dev', p.ifname])
    }
  } catch (err) {
    await removeTestbed(id)
    liveTestbeds.delete(id)
    throw err
  }

  return handle(id, subnet, phones, gateway)
}

function handle (id: string, subnet: string, phones: Phone[], gateway?: string): Testbed {
  const bridgeNs = `${id}-br`
  const relays: RelayHandle[] = []
  const used = (ip: string): boolean => ip === gateway || phones.some(p => p.ip === ip)
  const tb: Testbed = {
    id,
    bridgeNs,
    subnet,
    phones,
    gateway,
    spawn: (phone, argv, spawnOpts = {}) => spawn('ip', ['netns', 'exec', nsName(phone), ...argv], spawnOpts),
    exec: async (phone, argv) => await sh(['ip', 'netns', 'exec', nsName(phone), ...argv]),
    shape: async (phone, shape) => { await applyShape(phone, shape) },
    unshape: async (phone) => { await clearShape(phone) },
    linkDown: async phone => { await sh(['ip', '-n', bridgeNs, 'link', 'set', phone.bridgePort, 'down']) },
    linkUp: async phone => { await sh(['ip', '-n', bridgeNs, 'link', 'set', phone.bridgePort, 'up']) },
    freeIp: () => {
      for (let i = 0; i < 512; i++) {
        const ip = `${subnet}.${randomInt(100, 250)}`
        if (!used(ip)) return ip
      }
      throw new NetnsError(`no free address left in ${subnet}.0/24`)
    },
    setIp: async (phone, ip) => {
      if (used(ip)) throw new NetnsError(`${ip} is already taken on ${subnet}.0/24`)
      const old = phone.ip
      const len = gateway !== undefined ? 32 : 24
      // New address first: removing an interface's last address flushes every route through it (the
      // gateway's, the multicast one). On a /24 the new one is a secondary, promoted when the old goes.
      // The old one then goes at once, as with a new lease: sockets bound to it are left with an address
      // that no longer exists, which is exactly what the app has to survive.
      await sh(['ip', 'netns', 'exec', phone.ns, 'sysctl', '-q', '-w', `net.ipv4.conf.${phone.ifname}.promote_secondaries=1`])
      await sh(['ip', '-n', phone.ns, 'addr', 'add', `${ip}/${len}`, 'dev', phone.ifname])
      await sh(['ip', '-n', phone.ns, 'addr', 'del', `${old}/${len}`, 'dev', phone.ifname])
      phone.ip = ip
      for (const r of relays) await r.onAddressChange(phone, old)
    },
    startRelay: async relayOpts => {
      if (gateway === undefined) throw new NetnsError('startRelay needs a routed testbed (createTestbed({ routed: true }))')
      const r = await startRelayProcess(tb, gateway, relayOpts)
      relays.push(r)
      return r
    },
    multicast: async (phone, on) => {
      await requireTool('iptables', 'iptables')
      // The raw table, not filter: shape()'s loss rules flush filter INPUT.
      for (const chain of ['PREROUTING', 'OUTPUT']) {
        const ipt = (op: string): string[] => ['ip', 'netns', 'exec', phone.ns, 'iptables', '-w', '-t', 'raw', op, chain, '-d', '224.0.0.0/4', '-j', 'DROP']
        const present = await sh(ipt('-C')).then(() => true, () => false)
        if (on && present) await sh(ipt('-D'))
        if (!on && !present) await sh(ipt('-A'))
      }
    },
    isolate: async on => {
      await requireTool('ebtables', 'ebtables')
      const eb = (args: string[]): string[] => ['ip', 'netns', 'exec', bridgeNs, 'ebtables', ...args]
      await sh(eb(['-F', 'FORWARD']))
      if (on) {
        // Frames to a group address (multicast, broadcast) are flooded as before; the rest is dropped.
        await sh(eb(['-A', 'FORWARD', '-d', 'Multicast', '-j', 'ACCEPT']))
        await sh(eb(['-A', 'FORWARD', '-j', 'DROP']))
      }
      if (gateway !== undefined) {
        // Routed: phone-to-phone unicast crosses the access point's IP layer, not the bridge.
        await requireTool('iptables', 'iptables')
        const rule = ['FORWARD', '-i', 'br0', '-o', 'br0', '-j', 'DROP']
        const present = await sh(['ip', 'netns', 'exec', bridgeNs, 'iptables', '-w', '-C', ...rule]).then(() => true, () => false)
        if (on && !present) await sh(['ip', 'netns', 'exec', bridgeNs, 'iptables', '-w', '-A', ...rule])
        if (!on && present) await sh(['ip', 'netns', 'exec', bridgeNs, 'iptables', '-w', '-D', ...rule])
      }
    },
    addInterface: async (phone, o = {}) => {
      const name = o.name ?? 'tun0'
      const far = `${id}-x${phone.index}${name.replace(/[^a-z0-9]/gi, '')}`
      const sub = o.subnet ?? await pickSubnet([subnet])
      await sh(['ip', 'netns', 'add', far])
      await sh(['ip', '-n', far, 'link', 'set', 'lo', 'up'])
      await sh(['ip', '-n', far, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', name, 'netns', phone.ns])
      await sh(['ip', '-n', far, 'addr', 'add', `${sub}.1/24`, 'dev', 'eth0'])
      await sh(['ip', '-n', far, 'link', 'set', 'eth0', 'up'])
      await sh(['ip', '-n', phone.ns, 'addr', 'add', `${sub}.2/24`, 'dev', name])
      await sh(['ip', '-n', phone.ns, 'link', 'set', name, 'up'])
      if (o.defaultRoute === true) await sh(['ip', '-n', phone.ns, 'route', 'replace', 'default', 'via', `${sub}.1`, 'dev', name])
      if (o.multicastRoute === true) await sh(['ip', '-n', phone.ns, 'route', 'replace', '224.0.0.0/4', 'dev', name])
      return { name, ip: `${sub}.2`, subnet: `${sub}.0/24`, ns: far }
    },
    down: async () => {
      await removeTestbed(id)
      liveTestbeds.delete(id)
    }
  }
  return tb
}

// From the repository root, not this file: the CLI runs this module from a bundle in dist/cli/ (two
// levels down, like scripts/lib/), where the relay's sources are not.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RELAY_MAIN = join(ROOT, 'scripts', 'lib', 'delay-relay-main.ts')

/** The delaying relay running in the access point's namespace. */
export interface RelayHandle {
  /**
   * Sends every TCP connection to phone:port through the relay (an iptables REDIRECT in the access
   * point), following the phone when its address changes. Returns the relay's own port for it.
   */
  forward: (phone: Phone, port: number) => Promise<number>
  /** Per forwarded port: the bytes each relayed connection carried. */
  stats: () => Promise<RouteStats[]>
  /** @internal the testbed calls this after setIp. */
  onAddressChange: (phone: Phone, oldIp: string) => Promise<void>
  stop: () => Promise<void>
}

async function startRelayProcess (tb: Testbed, gateway: string, opts: DelayRelayOptions): Promise<RelayHandle> {
  const child = tb.spawn(tb.bridgeNs, [process.execPath, '--import', 'tsx', RELAY_MAIN, JSON.stringify(opts)],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  const answers: Array<{ resolve: (v: Record<string, unknown>) => void, reject: (e: Error) => void }> = []
  let exited: string | undefined
  const fail = (why: string): void => {
    exited = why
    for (const a of answers.splice(0)) a.reject(new NetnsError(`delay relay ${why}: ${stderr.trim()}`))
  }
  child.on('exit', (code, signal) => { fail(`exited (${code ?? signal})`) })
  child.on('error', err => { fail(err.message) })
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => answers.push({ resolve, reject }))
  createInterface({ input: child.stdout! }).on('line', line => {
    let msg: Record<string, unknown>
    try { msg = JSON.parse(line) as Record<string, unknown> } catch { return }
    const a = answers.shift()
    if (a === undefined) return
    if (typeof msg.error === 'string') a.reject(new NetnsError(`delay relay: ${msg.error}`))
    else a.resolve(msg)
  })
  // Commands are answered in order, one line each.
  const ask = async (cmd: Record<string, unknown>): Promise<Record<string, unknown>> => {
    if (exited !== undefined) throw new NetnsError(`delay relay ${exited}: ${stderr.trim()}`)
    const p = new Promise<Record<string, unknown>>((resolve, reject) => answers.push({ resolve, reject }))
    child.stdin!.write(JSON.stringify(cmd) + '\n')
    return await p
  }
  await ready
  const forwards: Array<{ phone: Phone, port: number, relayPort: number }> = []
  const rule = (op: '-A' | '-D', ip: string, port: number, relayPort: number): string[] =>
    ['ip', 'netns', 'exec', tb.bridgeNs, 'iptables', '-w', '-t', 'nat', op, 'PREROUTING', '-i', 'br0', '-d', ip, '-p', 'tcp',
      '--dport', String(port), '-j', 'REDIRECT', '--to-ports', String(relayPort)]
  await requireTool('iptables', 'iptables')
  return {
    forward: async (phone, port) => {
      const relayPort = Number((await ask({ cmd: 'route', listen: gateway, port: 0, host: phone.ip, targetPort: port })).port)
      await sh(rule('-A', phone.ip, port, relayPort))
      forwards.push({ phone, port, relayPort })
      return relayPort
    },
    stats: async () => (await ask({ cmd: 'stats' })).routes as RouteStats[],
    onAddressChange: async (phone, oldIp) => {
      for (const f of forwards.filter(f => f.phone === phone)) {
        await sh(rule('-D', oldIp, f.port, f.relayPort)).catch(() => {})
        await sh(rule('-A', phone.ip, f.port, f.relayPort))
        await ask({ cmd: 'retarget', port: f.relayPort, host: phone.ip })
      }
    },
    stop: async () => {
      for (const f of forwards.splice(0)) await sh(rule('-D', f.phone.ip, f.port, f.relayPort)).catch(() => {})
      child.stdin?.end()
      if (exited === undefined) await new Promise<void>(resolve => child.once('exit', () => resolve()))
    }
  }
}

/** Re-opens an existing testbed (made by `netns.ts up` or another process) by id. */
export async function openTestbed (id: string): Promise<Testbed> {
  const names = await namespacesOf(id)
  if (!names.includes(`${id}-br`)) throw new NetnsError(`no testbed '${id}' (have: ${(await listTestbeds()).join(', ') || 'none'})`)
  const phones: Phone[] = []
  let subnet = ''
  for (const ns of names) {
    const m = /-p(\d+)$/.exec(ns)
    if (m === null) continue
    const index = Number(m[1])
    const addr = await sh(['ip', '-n', ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0']).catch(() => '')
    const ip = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(addr)?.[1] ?? ''
    if (ip !== '') subnet = ip.split('.').slice(0, 3).join('.')
    phones.push({ index, ns, ip, ifname: 'eth0', bridgePort: `p${index}` })
  }
  phones.sort((a, b) => a.index - b.index)
  const br = await sh(['ip', '-n', `${id}-br`, '-4', '-o', 'addr', 'show', 'dev', 'br0']).catch(() => '')
  return handle(id, subnet, phones, /inet (\d+\.\d+\.\d+\.\d+)\//.exec(br)?.[1])
}

/** Namespaces whose names start with the testbed id. */
async function namespacesOf (id: string): Promise<string[]> {
  return (await listFerryNamespaces()).filter(ns => ns.startsWith(`${id}-`))
}

export async function listFerryNamespaces (): Promise<string[]> {
  const out = await sh(['ip', 'netns', 'list']).catch(() => '')
  return out.split('\n').map(l => l.trim().split(/\s+/)[0]).filter(ns => ns?.startsWith(NS_PREFIX))
}

/** Testbed ids present on this machine. */
export async function listTestbeds (): Promise<string[]> {
  const ids = new Set<string>()
  for (const ns of await listFerryNamespaces()) {
    const m = /^(ferry-(?:p\d+(?:r|probe)[0-9a-f]+|m[0-9a-f]+))-/.exec(ns)
    if (m !== null) ids.add(m[1])
  }
  return [...ids]
}

async function killProcessesIn (ns: string): Promise<void> {
  // Only processes inside our own namespace: children a test or the CLI started there.
  const out = await sh(['ip', 'netns', 'pids', ns]).catch(() => '')
  for (const pid of out.split(/\s+/).filter(Boolean).map(Number)) {
    if (pid === process.pid) continue
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}

export async function removeTestbed (id: string): Promise<void> {
  for (const ns of await namespacesOf(id)) {
    await killProcessesIn(ns)
    // Deleting a namespace destroys its veth ends, and with them their peers.
    await sh(['ip', 'netns', 'del', ns]).catch(() => {})
  }
}

function removeTestbedSync (id: string): void {
  try {
    const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    for (const ns of list.split('\n').map(l => l.trim().split(/\s+/)[0]).filter(ns => ns?.startsWith(`${id}-`))) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
        for (const pid of pids.split(/\s+/).filter(Boolean).map(Number)) {
          if (pid !== process.pid) try { process.kill(pid, 'SIGKILL') } catch {}
        }
      } catch {}
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
    }
  } catch {}
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'
  }
}

/** Removes testbeds whose owning process is gone (a crashed test run). Returns their ids. */
export async function cleanupStale (): Promise<string[]> {
  const removed: string[] = []
  for (const id of await listTestbeds()) {
    const m = /^ferry-p(\d+)/.exec(id)
    if (m === null) continue // manual testbeds are the user's to remove
    const pid = Number(m[1])
    if (pid === process.pid || alive(pid)) continue
    await removeTestbed(id)
    removed.push(id)
  }
  return removed
}

/**
 * Shaping for chaos tests. This kernel has no netem, so: bandwidth with a token bucket (tbf) on the
 * phone's egress, loss with iptables' statistic match on its ingress. Latency would need a
 * user-space delaying proxy.
 */
async function applyShape (phone: Phone, shape: ShapeOptions): Promise<void> {
  const inNs = (argv: string[]): string[] => ['ip', 'netns', 'exec', phone.ns, ...argv]
  if (shape.rateMbit !== undefined) {
    if (!(shape.rateMbit > 0)) throw new NetnsError(`rateMbit must be > 0, not ${shape.rateMbit}`)
    // burst must hold at least one MTU-sized packet per timer tick; 64 kbit is ample up to ~1 Gbit.
    await sh(inNs(['tc', 'qdisc', 'replace', 'dev', phone.ifname, 'root', 'tbf',
      'rate', `${shape.rateMbit}mbit`, 'burst', '64kbit', 'latency', '400ms']))
  }
  if (shape.loss !== undefined) {
    if (!(shape.loss >= 0 && shape.loss < 1)) throw new NetnsError(`loss must be in [0, 1), not ${shape.loss}`)
    await requireTool('iptables', 'iptables')
    // -w: parallel test files change rules in their own namespaces at once; wait for the lock, do not fail.
    await sh(inNs(['iptables', '-w', '-F', 'INPUT']))
    if (shape.loss > 0) {
      await sh(inNs(['iptables', '-w', '-A', 'INPUT', '-i', phone.ifname, '-m', 'statistic', '--mode', 'random',
        '--probability', String(shape.loss), '-j', 'DROP']))
    }
  }
}

async function clearShape (phone: Phone): Promise<void> {
  await sh(['ip', 'netns', 'exec', phone.ns, 'tc', 'qdisc', 'del', 'dev', phone.ifname, 'root']).catch(() => {})
  if (await hasCommand('iptables')) {
    await sh(['ip', 'netns', 'exec', phone.ns, 'iptables', '-w', '-F', 'INPUT']).catch(() => {})
  }
}
