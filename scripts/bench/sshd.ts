// A private sshd on 127.0.0.1 for the rsync lanes: host and client keys generated into a temp dir, a
// config of its own (public key only, the generated key only, no PAM, one cipher), run as the current
// user, stopped and removed with its keys when the benchmark ends, fails or is interrupted.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { atCleanup, removeTempDir, spawnProcess, tempDir, type Child } from './proc.js'
import { freePort, waitListening } from './ports.js'

/** The cipher the comparison is made with: the one OpenSSH prefers where AES has no hardware help. */
export const SSH_CIPHER = 'chacha20-poly1305@openssh.com'

export interface Sshd {
  port: number
  pid: number
  user: string
  /** The ssh command line (for rsync -e): this server's key pinned, the generated client key, the cipher. */
  ssh: string[]
  stop: () => Promise<void>
}

/**
 * A path as one argument of an sshd_config line or an ssh -o option: both split on spaces outside
 * double quotes (UserKnownHostsFile takes a list of files), and a temp dir may have spaces in it
 * (TMPDIR). A double quote cannot be quoted there at all.
 */
function configValue (path: string): string {
  if (path.includes('"')) throw new Error(`the benchmark's sshd cannot use a temp dir whose path holds a double quote: ${path}`)
  return /\s/.test(path) ? `"${path}"` : path
}

/**
 * The ssh command line as rsync's -e takes it, one string: rsync splits it on spaces outside single or
 * double quotes (and knows no backslashes).
 */
export function rshCommand (args: string[]): string {
  return args.map(a => {
    if (!/[\s'"]/.test(a)) return a
    if (!a.includes("'")) return `'${a}'`
    if (!a.includes('"')) return `"${a}"`
    throw new Error(`rsync -e cannot pass an argument holding both kinds of quote: ${a}`)
  }).join(' ')
}

/** Where sshd, run as root, insists on finding its privilege-separation directory. */
const PRIVSEP_DIR = '/run/sshd'

export async function startSshd (paths: { sshd: string, ssh: string, sshKeygen: string }, timeoutMs: number): Promise<Sshd> {
  const dir = tempDir('sshd')
  const user = userInfo().username
  const keygen = (file: string): void => {
    execFileSync(paths.sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'ferry-bench', '-f', file], { stdio: 'ignore' })
  }
  keygen(join(dir, 'host_ed25519'))
  keygen(join(dir, 'client_ed25519'))
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_ed25519.pub')), { mode: 0o600 })
  const port = await freePort()
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_ed25519.pub'), 'utf8')}`)
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${configValue(join(dir, 'host_ed25519'))}`,
    `PidFile ${configValue(join(dir, 'sshd.pid'))}`,
    `AuthorizedKeysFile ${configValue(join(dir, 'authorized_keys'))}`,
    `AllowUsers ${user}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // root logs in too (the benchmark runs as root on CI), with the generated key only
    'PermitRootLogin prohibit-password',
    // the keys lie in a temp dir whose parents (/tmp) are group- or world-writable
    'StrictModes no',
    `Ciphers ${SSH_CIPHER}`,
    'Compression no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'PermitTTY no',
    'PrintMotd no',
    'UseDNS no',
    'LogLevel ERROR',
    ''
  ].join('\n'))
  let madePrivsep = false
  if (process.getuid?.() === 0 && !existsSync(PRIVSEP_DIR)) {
    mkdirSync(PRIVSEP_DIR, { mode: 0o755 })
    madePrivsep = true
  }
  const privsep = atCleanup(() => { if (madePrivsep) rmSync(PRIVSEP_DIR, { recursive: true, force: true }) })
  // -D: stay in the foreground (a child the benchmark tracks and kills); -e: errors on stderr.
  // sshd re-executes itself for every connection, so it must be started by its absolute path.
  const daemon: Child = spawnProcess([paths.sshd, '-D', '-e', '-f', join(dir, 'sshd_config')], { label: 'sshd', timeoutMs })
  let failure: Error | undefined
  daemon.done.catch((err: Error) => { failure = err })
  const stop = async (): Promise<void> => {
    daemon.kill()
    await daemon.done.catch(() => {})
    removeTempDir(dir)
    if (madePrivsep) rmSync(PRIVSEP_DIR, { recursive: true, force: true })
    privsep.cancel()
  }
  try {
    await waitListening(port, 'sshd', () => failure ?? (Number.isNaN(daemon.exitedAt()) ? undefined : new Error('sshd exited')))
  } catch (err) {
    await stop()
    throw err
  }
  const ssh = [
    paths.ssh, '-F', '/dev/null', '-p', String(port),
    '-i', join(dir, 'client_ed25519'), '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${configValue(join(dir, 'known_hosts'))}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes', '-o', 'Compression=no', '-o', 'LogLevel=ERROR',
    '-c', SSH_CIPHER
  ]
  return { port, pid: daemon.pid, user, ssh, stop }
}
