// The comparison lanes a person would otherwise use to move the same store on the same machine:
// rsync -a over ssh (plain and --fsync) to the benchmark's own sshd, and tar piped through socat (no
// encryption, no durability: the floor for moving the files at all). Each copies history.db and media/
// into a fresh directory beside Ferry's receiving store and is checked to have copied every byte.
import { join } from 'node:path'
import { spawnProcess } from './proc.js'
import { childrenOf, watchTree } from './process-tree.js'
import { freePort, waitListening } from './ports.js'
import { rshCommand, type Sshd } from './sshd.js'
import { checkCopy, type LaneRun } from './user-clock.js'

export interface CopyOptions {
  /** The source store's directory, and which of its entries to copy (storeFiles). */
  from: string
  files: string[]
  /** A fresh, empty directory. */
  to: string
  timeoutMs: number
}

/** Resolves once `pid` has no children left (sshd's per-connection processes are gone), or after `maxMs`. */
async function childrenGone (pid: number, maxMs = 5000): Promise<void> {
  const until = performance.now() + maxMs
  while (childrenOf(pid).length > 0 && performance.now() < until) await new Promise(resolve => setTimeout(resolve, 2))
}

/**
 * `rsync -a [--fsync] -e 'ssh -c chacha20-poly1305@openssh.com ...' FILES user@127.0.0.1:TO/`. The
 * sender side is the local rsync and its ssh; the receiver side is everything under sshd (the
 * connection's sshd processes and the remote rsync's generator and receiver). The user's clock runs
 * from starting rsync until it and the server's processes have all exited.
 */
export async function rsyncLane (o: CopyOptions & { rsync: string, sshd: Sshd, fsync: boolean }): Promise<LaneRun> {
  const label = o.fsync ? 'rsync --fsync' : 'rsync'
  const remote = watchTree([o.sshd.pid])
  const c = spawnProcess([o.rsync, '-a', ...(o.fsync ? ['--fsync'] : []), '-e', rshCommand(o.sshd.ssh),
    ...o.files.map(f => join(o.from, f)), `${o.sshd.user}@127.0.0.1:${o.to}/`], { label, timeoutMs: o.timeoutMs })
  const local = watchTree([c.pid])
  try {
    await c.done
    const clientExit = c.exitedAt()
    await childrenGone(o.sshd.pid)
    const end = Math.max(clientExit, performance.now())
    checkCopy(label, o.from, o.to, o.files)
    return {
      userMs: end - c.startedAt,
      phases: { senderExitMs: clientExit - c.startedAt },
      cpuSec: { sender: local.cpuSec(), receiver: remote.cpuSec() },
      peakRssMiB: { sender: local.peakRssMiB(), receiver: remote.peakRssMiB() }
    }
  } finally {
    local.stop()
    remote.stop()
    c.kill()
    await c.done.catch(() => {})
  }
}

/**
 * `socat -u TCP-LISTEN:P STDOUT | tar -x -C TO` started first, then `tar -c FILES | socat -u STDIN
 * TCP:127.0.0.1:P`. The user's clock runs from starting the listener until both pipelines exited.
 */
export async function tarSocatLane (o: CopyOptions & { tar: string, socat: string, bash: string }): Promise<LaneRun> {
  const port = await freePort()
  // Arguments go in as positional parameters: no path is ever quoted into the script.
  const receiver = spawnProcess([o.bash, '-o', 'pipefail', '-c', '"$1" -u TCP-LISTEN:"$2",bind=127.0.0.1,reuseaddr STDOUT | "$3" -x -f - -C "$4"',
    'tar-socat-receiver', o.socat, String(port), o.tar, o.to], { label: 'socat | tar -x', timeoutMs: o.timeoutMs })
  const recvTree = watchTree([receiver.pid])
  let sender: ReturnType<typeof spawnProcess> | undefined
  let sendTree: ReturnType<typeof watchTree> | undefined
  try {
    let failed: Error | undefined
    receiver.done.catch((err: Error) => { failed = err })
    await waitListening(port, 'socat', () => failed ?? (Number.isNaN(receiver.exitedAt()) ? undefined : new Error('the receiving socat exited before it listened')))
    sender = spawnProcess([o.bash, '-o', 'pipefail', '-c', '"$1" -c -f - -C "$2" "${@:5}" | "$3" -u STDIN TCP:127.0.0.1:"$4"',
      'tar-socat-sender', o.tar, o.from, o.socat, String(port), ...o.files], { label: 'tar -c | socat', timeoutMs: o.timeoutMs })
    sendTree = watchTree([sender.pid])
    await Promise.all([sender.done, receiver.done])
    const t0 = receiver.startedAt
    checkCopy('tar | socat', o.from, o.to, o.files)
    return {
      userMs: Math.max(sender.exitedAt(), receiver.exitedAt()) - t0,
      phases: { senderStartMs: sender.startedAt - t0, senderExitMs: sender.exitedAt() - t0, receiverExitMs: receiver.exitedAt() - t0 },
      cpuSec: { sender: sendTree.cpuSec(), receiver: recvTree.cpuSec() },
      peakRssMiB: { sender: sendTree.peakRssMiB(), receiver: recvTree.peakRssMiB() }
    }
  } finally {
    recvTree.stop()
    sendTree?.stop()
    sender?.kill()
    receiver.kill()
    await sender?.done.catch(() => {})
    await receiver.done.catch(() => {})
  }
}
