/** Whether a process `pid` is running (one of another user's counts: it cannot be signalled, but it is there). */
export function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'
  }
}
