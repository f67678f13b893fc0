import { F, KIND, type ChatPlan } from './plan.js'
import type { Rng } from './prng.js'

// When messages are sent: conversations come in bursts (seconds to minutes apart), separated by
// silences of hours to weeks, and people mostly sleep at night. Equal timestamps happen (an album
// sent at once, the notices that open a group) and the store's (ts, id) order must cope with them.

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Every history ends before this instant, not at "now": the same seed must give the same timestamps next year. */
export const HISTORY_END = Date.UTC(2025, 5, 1)

function burstGap (rng: Rng): number {
  const r = rng.float()
  if (r < 0.01) return 0
  if (r < 0.45) return rng.range(SECOND, 15 * SECOND)
  if (r < 0.85) return rng.range(15 * SECOND, 2 * MINUTE)
  return rng.range(2 * MINUTE, 10 * MINUTE)
}

/**
 * Timestamps (ms, never decreasing) for a chat's messages. Drawn backwards from the chat's last
 * message, so every chat ends before HISTORY_END however its silences add up, like a real phone
 * whose chats all lie in the past, some long quiet.
 */
export function timestamps (rng: Rng, plan: ChatPlan): Float64Array {
  const n = plan.count
  const spanDays = rng.range(30, 1800)
  const silence = Math.max(10 * MINUTE, Math.floor(spanDays * DAY / Math.max(1, n / 6)))
  const tz = rng.range(-10, 12) * HOUR

  /** A time between 1 and 7 in the morning (chat's local time) moves back to around midnight. */
  const awake = (ts: number): number => {
    const local = ts + tz
    const midnight = local - (((local % DAY) + DAY) % DAY)
    const hour = Math.floor((local - midnight) / HOUR)
    return hour >= 1 && hour < 7 ? midnight + HOUR - 1 - rng.int(2 * HOUR) - tz : ts
  }

  const out = new Float64Array(n)
  let ts = awake(HISTORY_END - 1 - Math.floor(rng.heavy() * 20 * DAY))
  for (let i = n - 1; i >= 0; i--) {
    out[i] = ts
    if (i === 0) break
    const opening = (plan.flags[i] & F.OPENING) !== 0
    const album = plan.kinds[i] === KIND.image && plan.kinds[i - 1] === KIND.image && rng.chance(0.7)
    if (opening || album) continue
    ts = rng.chance(1 / 6) ? awake(ts - Math.floor(silence * rng.heavy()) - rng.int(MINUTE)) : ts - burstGap(rng)
  }
  return out
}
