/**
 * What `work` resolves to, or `late` once `ms` have passed without it (the work itself goes on). The
 * timer is cleared either way, so a race that ended holds no process open.
 */
export async function within<T, L> (work: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<L>(resolve => { timer = setTimeout(() => { resolve(late) }, ms) })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}
