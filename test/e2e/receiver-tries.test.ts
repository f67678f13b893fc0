// A neighbour posing as the old phone, against a real `ferry receive` process: each run with the same
// typed code tries it once, and the fourth run refuses the code at once, telling the person why and
// what to do, with exit 1 and CODE_EXPIRED. (The library's side, restarts and clearing by a pairing:
// test/net/receiver-tries.test.ts.)
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, errorCode, killAll, newStorePath, startReceiver } from './helpers/ferry-cli.js'
import { startImpostor, type Impostor } from './helpers/impostor.js'

const CODE = '318-6642-0975'
const impostors: Impostor[] = []

describe('ferry receive against someone posing as the old phone', () => {
  afterEach(async () => {
    await killAll()
    await Promise.all(impostors.splice(0).map(async i => { await i.stop() }))
  })
  afterAll(() => cleanupTempDirs())

  it('three runs try the code; the fourth refuses it before pairing, saying what to do', async () => {
    const fake = await startImpostor('318-0000-0001')
    impostors.push(fake)
    const store = newStorePath()
    for (let i = 1; i <= 3; i++) {
      const p = startReceiver(store, { code: CODE, peer: fake.addr, name: `receiver ${i}` })
      const exit = await p.waitExit(30_000)
      expect(exit.code, p.describe()).toBe(1)
      expect(errorCode(p.stderr), p.describe()).toBe('WRONG_CODE')
      expect(p.stderr).toContain(i < 3
        ? `check the digits. ${3 - i} ${i === 2 ? 'try' : 'tries'} of this code left here; the QR code (--qr) cannot be mistyped`
        : 'no tries of this code are left here. Run ferry send again on the old phone for a new code, or pass its QR code with --qr')
      expect(fake.streams).toBe(i)
    }
    const p = startReceiver(store, { code: CODE, peer: fake.addr, name: 'receiver 4' })
    const exit = await p.waitExit(30_000)
    expect(exit.code, p.describe()).toBe(1)
    expect(errorCode(p.stderr), p.describe()).toBe('CODE_EXPIRED')
    expect(p.stderr).toContain('this code was tried 3 times without pairing')
    expect(p.stderr).toContain('someone nearby may be posing as the old phone, or the code was mistyped')
    expect(p.stderr).toContain('run ferry send again on the old phone, or pass its QR code with --qr')
    expect(p.stderr).not.toContain(CODE)
    expect(p.events.at(-1)).toMatchObject({ event: 'error', code: 'CODE_EXPIRED' })
    expect(fake.streams).toBe(3)
  })
  it('a neighbour that resets as the phones check the code spends one try per run, and each run says so', async () => {
    // Its PAKE_B is valid and the stream goes at once: whether this phone's refusal got out first is the
    // network's timing, and either way the run ends after that one try (a link that drops before the
    // answer, net/pair-stream.ts; test/net/receiver-tries.test.ts makes the reset land first every time).
    const fake = await startImpostor('318-0000-0001', { cutAfterPakeB: async () => {} })
    impostors.push(fake)
    const store = newStorePath()
    for (let i = 1; i <= 2; i++) {
      const p = startReceiver(store, { code: CODE, peer: fake.addr, name: `receiver ${i}` })
      const exit = await p.waitExit(30_000)
      expect(exit.code, p.describe()).toBe(1)
      expect(errorCode(p.stderr), p.describe()).toBe('WRONG_CODE')
      expect(p.stderr).toContain(`${3 - i} ${i === 2 ? 'try' : 'tries'} of this code left here`)
      expect(p.stderr).not.toContain(CODE)
      expect(fake.streams, 'one pairing per run: the cut is not retried').toBe(i)
    }
  })
})
