import { formatBytes } from '../format-bytes.js'

// What the page's progress bar says of a transfer: how far it is and its pace. Pure, so that what a
// person reads is tested without a browser; the pace itself is src/pace.ts, the CLI's too.

/** What the progress bar shows. */
export interface WebProgress {
  messages: number
  totalMessages: number
  mediaBytes: number
  totalMediaBytes: number
  /** Bytes received in this session, for the rate (when known). */
  bytesReceived?: number
}

export function formatDuration (s: number): string {
  if (!Number.isFinite(s)) return '…'
  if (s < 60) return `${Math.max(1, Math.round(s))} s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`
}

/**
 * The bar's fill (0 to 1) and its line: what moved, the rate the link carries ('--' until a window of
 * it has passed, as the CLI's bar says it) and the time left.
 */
export function progressLine (p: WebProgress, pace: { rate?: number, etaSec?: number }): { fraction: number, text: string } {
  // Messages are a small part of the bytes but most of what a person waits to see: give them the
  // first tenth of the bar, the media the rest.
  const msgShare = p.totalMessages === 0 ? 1 : p.messages / p.totalMessages
  const mediaShare = p.totalMediaBytes === 0 ? 1 : p.mediaBytes / p.totalMediaBytes
  const fraction = 0.1 * msgShare + 0.9 * mediaShare
  const rate = pace.rate === undefined ? '--' : formatBytes(pace.rate)
  const eta = pace.etaSec === undefined ? '…' : formatDuration(pace.etaSec)
  const text = `${p.messages.toLocaleString('en')} of ${p.totalMessages.toLocaleString('en')} messages · ` +
    `${formatBytes(p.mediaBytes)} of ${formatBytes(p.totalMediaBytes)} media · ` +
    `${rate}/s · ` + (fraction >= 1 ? 'checking…' : `about ${eta} left`)
  return { fraction, text }
}
