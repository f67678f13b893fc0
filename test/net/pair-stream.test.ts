import { describe, expect, it } from 'vitest'
import { CodeLifetime, parseCode } from '../../src/pairing/index.js'
import { pairAsReceiver, pairAsSender } from '../../src/net/pair-stream.js'
import { memoryPipe } from '../../src/wire/memory-duplex.js'
import type { ByteDuplex } from '../../src/wire/duplex.js'

const SENDER = '12D3KooWSenderSenderSenderSenderSenderSenderSender1'
const RECEIVER = '12D3KooWReceiverReceiverReceiverReceiverReceiverR1'

/** The duplex, with each half-close recorded in `log` under `who`. */
function logged (d: ByteDuplex, who: string, log: string[]): ByteDuplex {
  return { ...d, close: async () => { log.push(`${who} hung up`); await d.close() } }
}

describe('pairing over a stream', () => {
  it('a receiver that refuses a wrong code waits for the sender to read why before it lets go', async () => {
    // Letting go at once lets a CLI exit with the sender's last frames unread: its socket is then
    // reset, the sender's kernel drops the refusal unread, and the sender reports a hang-up
    // (TRUNCATED) instead of the wrong code it was shown.
    const log: string[] = []
    const pipe = memoryPipe()
    const code = parseCode('271-4567-8901')
    const wrong = parseCode('271-4567-8902')
    const sender = pairAsSender(logged(pipe.a, 'sender', log), { localPeerId: SENDER, remotePeerId: RECEIVER },
      { code, lifetime: new CodeLifetime(), tokens: new Map() })
      .then(() => undefined, (err: { code?: string }) => { log.push('sender refused'); return err.code })
    const receiver = pairAsReceiver(logged(pipe.b, 'receiver', log), { localPeerId: RECEIVER, remotePeerId: SENDER }, { code: wrong })
      .then(() => undefined, (err: { code?: string }) => { log.push('receiver refused'); return err.code })
    expect(await receiver).toBe('WRONG_CODE')
    expect(await sender).toBe('WRONG_CODE')
    // The sender read the refusal (and hung up) before the receiver was done.
    expect(log.indexOf('sender hung up')).toBeGreaterThanOrEqual(0)
    expect(log.indexOf('sender hung up')).toBeLessThan(log.indexOf('receiver refused'))
  })

  it('a sender that never hangs up does not keep a refusing receiver: it lets go after its linger', async () => {
    const pipe = memoryPipe()
    const silent: ByteDuplex = { ...pipe.a, close: async () => {} } // reads the refusal, never ends its side
    const sender = pairAsSender(silent, { localPeerId: SENDER, remotePeerId: RECEIVER },
      { code: parseCode('271-4567-8901'), lifetime: new CodeLifetime(), tokens: new Map() }).catch((err: { code?: string }) => err.code)
    const receiver = pairAsReceiver(pipe.b, { localPeerId: RECEIVER, remotePeerId: SENDER }, { code: parseCode('271-4567-8902') })
    await expect(receiver).rejects.toMatchObject({ code: 'WRONG_CODE' })
    expect(await sender).toBe('WRONG_CODE')
  })
})
