import { fc } from '../helpers/property.js'
import { describe, expect, it } from 'vitest'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { codePrs, formatCode, generateCode, parseCode, serviceTag, uniformInt, type PairingCode } from '../../src/pairing/code.js'

function badInput (f: () => unknown): string {
  try {
    f()
  } catch (err) {
    expect(isFerryError(err, ErrorCode.BAD_INPUT)).toBe(true)
    return (err as Error).message
  }
  throw new Error('expected BAD_INPUT')
}

describe('pairing codes', () => {
  it('formats as NNN-NNNN-NNNN', () => {
    expect(formatCode({ nameplate: '007', secret: '00001234' })).toBe('007-0000-1234')
  })

  it('parses what people type', () => {
    const want = { nameplate: '123', secret: '45678901' }
    for (const typed of [
      '123-4567-8901', '  123-4567-8901\n', '12345678901', '123 4567 8901', '123-45678901', '1 2 3 4 5 6 7 8 9 0 1',
      '123–4567—8901', // en and em dash
      '１２３－４５６７－８９０１', // full-width digits and hyphen
      '\u0661\u0662\u0663-\u0664\u0665\u0666\u0667-\u0668\u0669\u0660\u0661', // Arabic-Indic digits
      '\u0967\u0968\u0969 \u096a\u096b\u096c\u096d \u096e\u096f\u0966\u0967', // Devanagari digits
      '123\u00a04567\u00a08901' // no-break spaces
    ]) {
      expect(parseCode(typed), typed).toEqual(want)
    }
  })

  it('reads every numbering system Intl knows the same way', () => {
    for (const nu of ['arab', 'arabext', 'beng', 'deva', 'fullwide', 'gujr', 'khmr', 'mymr', 'tamldec', 'thai', 'tibt', 'mong', 'adlm']) {
      const fmt = new Intl.NumberFormat('en', { numberingSystem: nu, useGrouping: false })
      const typed = fmt.format(123) + '-' + fmt.format(4567) + '-' + fmt.format(8901)
      expect(parseCode(typed), nu).toEqual({ nameplate: '123', secret: '45678901' })
    }
  })

  it('says what is wrong', () => {
    expect(badInput(() => parseCode('123-4567-89'))).toBe('a code has 11 digits, like 123-4567-8901; you typed 9')
    expect(badInput(() => parseCode('123-4567-89012'))).toMatch(/you typed 12/)
    expect(badInput(() => parseCode('   '))).toMatch(/no code given/)
    expect(badInput(() => parseCode('123-4567-89O1'))).toMatch(/"O" at position 12 is not one/)
    expect(badInput(() => parseCode('123/4567/8901'))).toMatch(/"\/" at position 4/)
    expect(badInput(() => parseCode(' '.repeat(10_000) + '12345678901'))).toMatch(/too long/)
    expect(badInput(() => parseCode(42 as unknown as string))).toMatch(/text/)
    expect(badInput(() => formatCode({ nameplate: '1234', secret: '12345678' }))).toMatch(/nameplate/)
    expect(badInput(() => formatCode({ nameplate: '123', secret: '1234567a' }))).toMatch(/secret/)
    // The text a person typed, handed over as it is by an app in JavaScript.
    expect(badInput(() => formatCode('123-4567-8901' as unknown as PairingCode))).toMatch(/made by parseCode\('123-4567-8901'\)/)
  })

  it('parseCode(formatCode(x)) is x, and parsing is insensitive to separators and spacing (property)', () => {
    const digits = (n: number) => fc.stringMatching(new RegExp(`^[0-9]{${n}}$`))
    const code = fc.record({ nameplate: digits(3), secret: digits(8) })
    fc.assert(fc.property(code, (c) => {
      expect(parseCode(formatCode(c))).toEqual(c)
    }), { numRuns: 500 })
    const sep = fc.constantFrom('', ' ', '-', '  ', ' - ', '\t', '\u2013', '\uff0d')
    fc.assert(fc.property(code, fc.array(sep, { minLength: 12, maxLength: 12 }), (c, seps) => {
      const all = c.nameplate + c.secret
      let typed = seps[0]
      for (let i = 0; i < 11; i++) typed += all[i] + seps[i + 1]
      expect(parseCode(typed)).toEqual(c)
    }), { numRuns: 500 })
  })

  it('generates well-formed codes from a secure source, and formats them back', () => {
    for (let i = 0; i < 200; i++) {
      const c = generateCode()
      expect(formatCode(c)).toMatch(/^[0-9]{3}-[0-9]{4}-[0-9]{4}$/)
      expect(parseCode(formatCode(c))).toEqual(c)
    }
  })

  it('draws uniformly: rejection sampling, no modulo bias', () => {
    // A source that first offers a value in the biased tail, then a good one: the tail is rejected.
    const n = 10 ** 8
    const limit = Math.floor(2 ** 32 / n) * n
    const be = (x: number): Uint8Array => Uint8Array.of(x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255)
    const draws = [be(limit), be(2 ** 32 - 1), be(limit - 1)]
    let i = 0
    expect(uniformInt(n, () => draws[i++])).toBe((limit - 1) % n)
    expect(i).toBe(3)
    // Zero-padding and the smallest values.
    expect(generateCode(() => new Uint8Array(4))).toEqual({ nameplate: '000', secret: '00000000' })
    // Roughly uniform over 10 buckets (a coarse sanity check, not a statistical proof).
    const buckets = new Array(10).fill(0)
    for (let k = 0; k < 20_000; k++) buckets[uniformInt(10)]++
    for (const b of buckets) expect(b).toBeGreaterThan(1700)
  })

  it('derives the mDNS service tag from the nameplate', () => {
    expect(serviceTag('042')).toBe('_ferry-042._udp.local')
    // A valid DNS-SD service name: at most 15 characters between "_" and "._udp".
    for (const nameplate of ['000', '999']) expect(/^_([^.]+)\._udp\.local$/.exec(serviceTag(nameplate))?.[1]).toMatch(/^.{1,15}$/)
    expect(() => serviceTag('42')).toThrow()
  })

  it('uses the secret digits, ASCII, as the CPace password', () => {
    expect(Buffer.from(codePrs(parseCode('123-4567-8901'))).toString()).toBe('45678901')
  })
})
