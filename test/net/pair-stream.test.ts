import { describe, expect, it } from 'vitest'
import { ErrorCode, type FerryError } from '../../src/errors.js'
import { CodeLifetime, parseCode } from '../../src/pairing/index.js'
import { pairAsReceiver, pairAsSender } from '../../src/net/pair-stream.js'
import { memoryPipe } from '../../src/wire/memory-duplex.js'
import type { ByteDuplex } from '../../src/wire/duplex.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

const SENDER = '12D3KooWSenderSenderSenderSenderSenderSenderSender1'
const RECEIVER = '12D3KooWReceiverReceiverReceiverReceiverReceiverR1'
const OTHER = '12D3KooWOtherOtherOtherOtherOtherOtherOtherOtherOth1'
const hex = (b?: Uint8Array): string => Buffer.from(b ?? []).toString('hex')

/** The duplex, with each half-close recorded in `log` under `who`. */
function logged (d: ByteDuplex, who: string, log: string[]): ByteDuplex {
  return { ...d, close: async () => { log.push(`${who} hung up`); await d.close() } }
}

/**
 * The receiving end of `pipe`, whose second write (its CONFIRM_A) waits until `letGo()`: `confirming`
 * resolves as it is held there, so another phone can pair first.
 */
function heldAtConfirmation (pipe: ReturnType<typeof memoryPipe>): { slow: ByteDuplex, confirming: Promise<void>, letGo: () => void } {
  let atConfirmation!: () => void
  const confirming = new Promise<void>(resolve => { atConfirmation = resolve })
  let letGo!: () => void
  const held = new Promise<void>(resolve => { letGo = resolve })
  let writes = 0
  const slow: ByteDuplex = {
    ...pipe.b,
    write: async chunks => {
      if (++writes === 2) { atConfirmation(); await held }
      await pipe.b.write(chunks)
    }
  }
  return { slow, confirming, letGo }
}

/** The receiving end of `pipe`, whose link goes as it answers the other phone's PAKE_B (its second write). */
function cutAtAnswer (pipe: ReturnType<typeof memoryPipe>): ByteDuplex {
  let writes = 0
  return {
    ...pipe.b,
    write: async chunks => {
      if (++writes === 2) pipe.a.abort(new Error('the other phone resets the link'))
      await pipe.b.write(chunks)
    }
  }
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

  it('a phone that another phone beat to the code is told so as part of pairing, and is not paired', async () => {
    // Both phones hold the code and begin; this one's confirmation reaches the sender only after the
    // other phone's. The code pairs one phone, so the sender refuses it: it must hear that now, with a
    // reason a person can act on, rather than think it paired and meet NOT_PAIRED on its transfer.
    const code = parseCode('271-4567-8901')
    const lifetime = new CodeLifetime()
    const late = memoryPipe()
    const { slow, confirming, letGo } = heldAtConfirmation(late)
    const lateSender = pairAsSender(late.a, { localPeerId: SENDER, remotePeerId: OTHER }, { code, lifetime, tokens: new Map() }).catch((err: { code?: string }) => err.code)
    const lateReceiver = pairAsReceiver(slow, { localPeerId: OTHER, remotePeerId: SENDER }, { code })
    lateReceiver.catch(() => {})
    await confirming

    const first = memoryPipe()
    const [s, r] = await Promise.all([
      pairAsSender(first.a, { localPeerId: SENDER, remotePeerId: RECEIVER }, { code, lifetime, tokens: new Map() }),
      pairAsReceiver(first.b, { localPeerId: RECEIVER, remotePeerId: SENDER }, { code })
    ])
    expect(hex(r.resumeToken)).toBe(hex(s.resumeToken))
    expect(r.unconfirmed).toBeUndefined()

    letGo()
    const refused = await lateReceiver.then(() => undefined, (err: FerryError) => err)
    expect(refused?.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(refused?.message).toBe('pairing: this code has already paired another phone; ask for a new code (if that phone is not yours, stop the transfer on the old phone)')
    expect(await lateSender).toBe(ErrorCode.CODE_EXPIRED)
  })

  it('a phone that another phone beat to the code counts no try of it: the old phone proved the code', async () => {
    // Refused at its confirmation, yet the old phone's tag showed it holds the code: nothing was
    // guessed, so the try is given back, and the person may still use the code's three tries elsewhere.
    const code = parseCode('271-4567-8901')
    const lifetime = new CodeLifetime()
    const journal = NodeJournal.open(tempDir('pair-tries-'))
    try {
      const tried = new TriedCodes(journal)
      await (await tried.begin(code)).charge() // an earlier wrong try, against someone else
      const late = memoryPipe()
      const { slow, confirming, letGo } = heldAtConfirmation(late)
      const lateSender = pairAsSender(late.a, { localPeerId: SENDER, remotePeerId: OTHER }, { code, lifetime, tokens: new Map() }).catch(() => {})
      const lateReceiver = pairAsReceiver(slow, { localPeerId: OTHER, remotePeerId: SENDER }, { code, tries: await tried.begin(code) })
      lateReceiver.catch(() => {})
      await confirming
      // Its PAKE_B was in and charged before it answered.
      expect(await tried.load(code)).toMatchObject({ failed: 2 })
      const first = memoryPipe()
      await Promise.all([
        pairAsSender(first.a, { localPeerId: SENDER, remotePeerId: RECEIVER }, { code, lifetime, tokens: new Map() }),
        pairAsReceiver(first.b, { localPeerId: RECEIVER, remotePeerId: SENDER }, { code })
      ])
      letGo()
      expect((await lateReceiver.then(() => undefined, (err: FerryError) => err))?.code).toBe(ErrorCode.CODE_EXPIRED)
      await lateSender
      expect(await tried.load(code)).toMatchObject({ failed: 1 })
    } finally {
      await journal.close()
      cleanupTempDirs()
    }
  })

  it('a typed code\'s pairing whose first reply does not come in time ends as a stall, no try charged', async () => {
    // A neighbour answering the search for the public nameplate can take the stream and say nothing: the
    // receive leaves it after the first reply's deadline, not the pairing's whole timeout (a minute).
    const code = parseCode('271-4567-8901')
    const journal = NodeJournal.open(tempDir('pair-first-reply-'))
    try {
      const tried = new TriedCodes(journal)
      const pipe = memoryPipe() // nobody reads or answers at the other end
      const err = await pairAsReceiver(pipe.b, { localPeerId: RECEIVER, remotePeerId: SENDER }, { code, tries: await tried.begin(code) }, 60_000, 200)
        .then(() => undefined, (e: FerryError) => e)
      expect(err?.code).toBe(ErrorCode.TRUNCATED)
      expect(err?.details).toMatchObject({ timedOut: true, cut: true })
      expect(err?.message).toBe('pairing timed out: the other phone did not answer within 0.2 s')
      expect(await tried.load(code), 'nothing of the code was tested').toBeUndefined()
    } finally {
      await journal.close()
      cleanupTempDirs()
    }
  })

  it('a receiver whose verdict is lost keeps its token, unconfirmed: the sender did pair it', async () => {
    // The link goes as the sender's PAIRED leaves (or the sender predates PAIRED and just hangs up).
    // The sender holds the pairing; a phone that dropped its token would have to pair with a code that
    // is used by now, so it keeps the token and a resume tells.
    const code = parseCode('271-4567-8901')
    const pipe = memoryPipe()
    let writes = 0
    const lossy: ByteDuplex = { ...pipe.a, write: async chunks => { if (++writes !== 2) await pipe.a.write(chunks) } }
    const [s, r] = await Promise.all([
      pairAsSender(lossy, { localPeerId: SENDER, remotePeerId: RECEIVER }, { code, lifetime: new CodeLifetime(), tokens: new Map() }),
      pairAsReceiver(pipe.b, { localPeerId: RECEIVER, remotePeerId: SENDER }, { code })
    ])
    expect(writes).toBe(2)
    expect(r).toMatchObject({ mode: 'code', unconfirmed: true })
    expect(hex(r.resumeToken)).toBe(hex(s.resumeToken))
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
  for (const [who, code, ends] of [
    ['another code', parseCode('271-4567-8902'), 'ends as a wrong code, the try kept: it is not tried again by itself'],
    ['the code', parseCode('271-4567-8901'), 'pairs, unconfirmed, and the count goes: the tag proved the code']
  ] as const) {
    it(`a link cut as this phone answers the PAKE_B of a phone that holds ${who} ${ends}`, async () => {
      const journal = NodeJournal.open(tempDir('pair-cut-'))
      try {
        const tried = new TriedCodes(journal)
        const mine = parseCode('271-4567-8901')
        const pipe = memoryPipe()
        pairAsSender(pipe.a, { localPeerId: SENDER, remotePeerId: RECEIVER }, { code, lifetime: new CodeLifetime(), tokens: new Map() }).catch(() => {})
        const outcome = await pairAsReceiver(cutAtAnswer(pipe), { localPeerId: RECEIVER, remotePeerId: SENDER }, { code: mine, tries: await tried.begin(mine) })
          .catch((e: FerryError) => e)
        if (who === 'the code') {
          // Its confirmation was out: the old phone may have paired it, and a resume tells (see above).
          expect(outcome).toMatchObject({ mode: 'code', unconfirmed: true })
          expect(await tried.load(mine)).toBeUndefined()
        } else {
          const err = outcome as FerryError
          expect(err?.code).toBe(ErrorCode.WRONG_CODE)
          expect(err?.details).toEqual({ linkDropped: true, triesLeft: 2 })
          expect(err?.message).toBe('pairing: the link to the other phone dropped while the phones were checking the code, and the other phone had not ' +
            'shown that it holds this code. This counted as one try of the code: 2 tries of it left on this phone. Try again with the same code ' +
            '(check its digits)')
          expect(await tried.load(mine)).toMatchObject({ failed: 1 })
        }
      } finally {
        await journal.close()
        cleanupTempDirs()
      }
    })
  }
})
