import { describe, expect, it, vi } from 'vitest'
import { ErrorCode, FerryError } from '../../src/errors.js'
import { reportError } from '../../src/cli/main.js'
import { wrongCode } from '../../src/cli/receive.js'

// What `ferry receive` says when a typed code did not pair, with the tries of it left in the store.

function said (err: FerryError): { code: number, text: string } {
  let text = ''
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { text += String(s); return true })
  try {
    return { code: reportError(wrongCode(err)), text }
  } finally {
    spy.mockRestore()
  }
}

describe('ferry receive on a try of a typed code that did not pair', () => {
  it('a link that dropped while the phones checked the code: one try spent, how many are left, what to do', () => {
    // The receive does not reconnect by itself after it (net/pair-stream.ts), so the person must hear it.
    const cut = (left: number): FerryError => new FerryError(ErrorCode.WRONG_CODE, 'pairing: ...', { linkDropped: true, triesLeft: left })
    expect(said(cut(2))).toEqual({
      code: 1,
      text: 'ferry: the link dropped while the phones were checking the code, and that counted as one try: 2 tries of this code left here. ' +
        'Check its digits against the old phone\'s, then run ferry receive again, or pass the QR code with --qr, which cannot be guessed and is not counted [WRONG_CODE]\n'
    })
    // The other phone never proved it holds the code typed: a mistyped one, tried again unchecked, spends another try.
    expect(said(cut(1)).text).toContain('that counted as one try: 1 try of this code left here. Check its digits against the old phone\'s, then run ferry receive again')
    expect(said(cut(0)).text).toBe('ferry: the link dropped while the phones were checking the code, and that counted as one try: no tries of this code ' +
      'are left here. Run ferry send again on the old phone for a new code, or pass its QR code with --qr, which cannot be guessed and is not counted [WRONG_CODE]\n')
  })

  it('a refusal from every phone the search found, none of which checked the code, is said as that, not as digits to check', () => {
    // Anyone can show the code's first digits and refuse at once (net/receiving.ts): the digits typed
    // were never tested, so telling the person to check them would send them the wrong way.
    const message = 'pairing: a phone showing this code\'s first three digits refused the code before checking it (it said: the code does not match), ' +
      'and no other phone nearby shows them. It proved nothing of the code: if the old phone still shows this code, someone nearby may be refusing in its place'
    const text = said(new FerryError(ErrorCode.WRONG_CODE, message, { triesLeft: 3, unproved: true, setAside: 1 })).text
    // The library's words, and the CLI's QR code, which names the old phone and so pairs past the neighbour.
    expect(text).toBe(`ferry: ${message}; the old phone's QR code (--qr), which names it, pairs all the same [WRONG_CODE]\n`)
    expect(text).not.toContain('check the digits')
    // Refused as expired, or cut off until the end (TRUNCATED), alike.
    expect(said(new FerryError(ErrorCode.CODE_EXPIRED, message, { from: 'sender', unproved: true, setAside: 2 })).text)
      .toBe(`ferry: ${message}; the old phone's QR code (--qr), which names it, pairs all the same [CODE_EXPIRED]\n`)
    const cut = 'pairing: the phone showing this code\'s first three digits cut the pairing off 4 times ...: someone nearby may be cutting in its place'
    expect(said(new FerryError(ErrorCode.TRUNCATED, cut, { unproved: true, cut: true, cuts: 4, phones: 1 })).text)
      .toBe(`ferry: ${cut}; the old phone's QR code (--qr), which names it, pairs all the same [TRUNCATED]\n`)
  })

  it('the old phone refusing a typed code as dead names the QR code, which three wrong tries do not end', () => {
    // The library's words leave the QR code out (an app may show none); the CLI has one, and says so.
    const dead = new FerryError(ErrorCode.CODE_EXPIRED, 'pairing: the code has expired (...): ask the old phone for a new code', { from: 'sender' })
    expect(said(dead).text).toBe('ferry: the old phone refused the code as expired: another phone used it, it was tried three times wrongly, ' +
      'or it is more than ten minutes old. After wrong tries its QR code (--qr) still pairs; else run ferry send there again for a new code [CODE_EXPIRED]\n')
    // A code that came from the QR code already: nothing more to scan, the library's words stand.
    expect(wrongCode(dead, { qr: true })).toBe(dead)
    // Refused as used after the confirmation: another phone has it, and a QR code would not help.
    const used = new FerryError(ErrorCode.CODE_EXPIRED, 'pairing: this code has already paired another phone', { from: 'sender', state: 'used' })
    expect(wrongCode(used)).toBe(used)
  })

  it('a refusal that was heard still reads as a wrong code to check', () => {
    expect(said(new FerryError(ErrorCode.WRONG_CODE, 'pairing: ...', { triesLeft: 2 })).text)
      .toBe('ferry: the code does not match the old phone\'s: check the digits. 2 tries of this code left here; the QR code (--qr) cannot be mistyped [WRONG_CODE]\n')
  })
})
