// `ferry` processes inside a testbed phone's network namespace, with the same event reader as the
// loopback tests (ferry-cli.ts). `ip netns exec` execs the command in place, so the child's pid is the
// ferry process itself and a SIGKILL reaches it directly.
import { join } from 'node:path'
import type { Phone, Testbed } from '../../../scripts/lib/netns.js'
import { FerryProcess, ROOT } from './ferry-cli.js'

const BIN = join(ROOT, 'bin', 'ferry.js')

export function spawnFerryIn (tb: Testbed, phone: Phone, args: string[], name = args[0] ?? 'ferry'): FerryProcess {
  const child = tb.spawn(phone, [process.execPath, BIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // mDNS is allowed here only because this is a namespace the testbed made.
    env: { ...process.env, FERRY_MDNS_NETNS_ONLY: '1', NO_COLOR: '1' }
  })
  return new FerryProcess(name, args, child)
}

/** The port the sender listens on: fixed, so the access point's relay can be pointed at it up front. */
export const SENDER_PORT = 4101

/** `listen: false`: no --listen, as a user restarting it would (it then listens where it did before). */
export function senderArgs (store: string, o: { code?: string, port?: number, listen?: boolean } = {}): string[] {
  const args = ['send', '--store', store, '--json']
  if (o.listen !== false) args.push('--listen', `/ip4/0.0.0.0/tcp/${o.port ?? SENDER_PORT}`)
  return o.code !== undefined ? [...args, '--code', o.code] : args
}

/** A receiver that finds the sender by mDNS (no --peer): the code's nameplate scopes the search. */
export function receiverArgs (store: string, o: { code?: string } = {}): string[] {
  const args = ['receive', '--store', store, '--json']
  return o.code !== undefined ? [...args, '--code', o.code] : args
}
