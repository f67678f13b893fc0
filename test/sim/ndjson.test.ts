import { describe, expect, it } from 'vitest'
import { parseLine, readLines, serializeRecord, toLine, type NdjsonRecord } from '../../src/sim/ndjson.js'
import type { Message } from '../../src/store/model.js'

const SHA = '0123456789abcdef'.repeat(4)

describe('writing canonical lines', () => {
  it('puts type first and every field in the fixed order, whatever the object order', () => {
    const m = { status: 'read', location: { label: 'Home', lon: 2.5, lat: -1 }, kind: 'location', ts: 5, sender: 'u1', id: 'm1', conversation: 'c1' } as Message
    expect(toLine('message', m)).toBe('{"type":"message","conversation":"c1","id":"m1","sender":"u1","ts":5,"kind":"location","location":{"lat":-1,"lon":2.5,"label":"Home"},"status":"read"}')
    expect(toLine('contact', { phone: '', name: 'A', id: 'u' })).toBe('{"type":"contact","id":"u","name":"A","phone":""}')
    expect(toLine('conversation', { members: ['z', 'me', 'a'], title: 'T', kind: 'group', id: 'g' }))
      .toBe('{"type":"conversation","id":"g","kind":"group","title":"T","members":["z","me","a"]}')
    expect(toLine('media', { mime: 'image/png', size: 3, sha256: SHA })).toBe(`{"type":"media","sha256":"${SHA}","size":3,"mime":"image/png"}`)
  })

  it('omits absent fields, keeps empty strings, and ignores properties the format does not know', () => {
    const m = { conversation: 'c', id: 'm', sender: 's', ts: 0, kind: 'text', text: '', media: undefined, extra: 1 } as unknown as Message
    expect(toLine('message', m)).toBe('{"type":"message","conversation":"c","id":"m","sender":"s","ts":0,"kind":"text","text":""}')
  })

  it('round-trips every record through parseLine', () => {
    const records: NdjsonRecord[] = [
      { type: 'contact', id: '𝒜', name: 'مريم', phone: '+1' },
      { type: 'conversation', id: 'c😀', kind: 'direct', title: '', members: [] },
      { type: 'media', sha256: SHA, size: 0, mime: '', path: 'media/x y.jpg' },
      { type: 'message', conversation: 'c', id: 'm', sender: 's', ts: -1, kind: 'voice', text: 'a\n"b"\\\u0001\u2028', media: SHA, durationMs: 0, location: { lat: 90, lon: -180 }, replyTo: 'r', status: 'recalled' }
    ]
    for (const r of records) {
      const line = serializeRecord(r)
      expect(parseLine(line)).toEqual(r)
      expect(line).not.toContain('\n')
    }
  })

  it('writes the fields imports keep (forward, bot, edit, pin, file name, links) after the others, in their fixed order', () => {
    const m = {
      links: [{ url: 'https://example.org/a', text: 'here' }, { url: 'tg://user?id=7' }],
      fileName: 'LICENSE.md',
      pinned: '41',
      editedAt: 1704056520000,
      viaBot: 'gif',
      forwardedFrom: '',
      status: 'read',
      kind: 'file',
      ts: 5,
      sender: 'u1',
      id: 'm1',
      conversation: 'c1'
    } as Message
    const line = '{"type":"message","conversation":"c1","id":"m1","sender":"u1","ts":5,"kind":"file","status":"read","forwardedFrom":"","viaBot":"gif",' +
      '"editedAt":1704056520000,"pinned":"41","fileName":"LICENSE.md","links":[{"text":"here","url":"https://example.org/a"},{"url":"tg://user?id=7"}]}'
    expect(toLine('message', m)).toBe(line)
    expect(serializeRecord(parseLine(line))).toBe(line)
    expect(parseLine(line)).toEqual({ type: 'message', ...m })
  })
})

describe('reading a line', () => {
  const msg = '"type":"message","conversation":"c","id":"m","sender":"s","ts":1,"kind":"text"'
  const refused: Array<[string, string, RegExp]> = [
    ['invalid JSON', '{"type":"contact",', /invalid JSON/],
    ['not an object', '[1,2]', /must be a JSON object/],
    ['null', 'null', /must be a JSON object/],
    ['no type', '{"id":"u","name":"x"}', /no "type"/],
    ['unknown type', '{"type":"reaction","id":"x"}', /unknown type "reaction"/],
    ['unknown message kind', `{${msg.replace('"text"', '"gif"')}}`, /"kind" must be one of text, voice/],
    ['unknown status', `{${msg},"status":"seen"}`, /"status" must be one of sent, delivered, read, recalled/],
    ['unknown conversation kind', '{"type":"conversation","id":"c","kind":"channel","title":"","members":[]}', /"kind" must be one of direct, group/],
    ['unknown field', `{${msg},"reactions":[]}`, /unknown field "reactions"/],
    ['unknown location field', `{${msg},"location":{"lat":1,"lon":2,"alt":3}}`, /location has an unknown field "alt"/],
    ['missing field', '{"type":"contact","id":"u"}', /missing "name"/],
    ['null field', `{${msg},"text":null}`, /"text" is null/],
    ['string ts', `{${msg.replace('"ts":1', '"ts":"1"')}}`, /"ts" must be an integer/],
    ['fractional ts', `{${msg.replace('"ts":1', '"ts":1.5')}}`, /"ts" must be an integer/],
    ['unsafe ts', `{${msg.replace('"ts":1', '"ts":9007199254740993')}}`, /"ts" must be an integer/],
    ['negative size', `{"type":"media","sha256":"${SHA}","size":-1,"mime":"x"}`, /"size" must be a non-negative integer/],
    ['uppercase sha256', `{"type":"media","sha256":"${SHA.toUpperCase()}","size":1,"mime":"x"}`, /sha256: 64 lowercase hex/],
    ['short sha256', '{"type":"media","sha256":"abc","size":1,"mime":"x"}', /sha256: 64 lowercase hex/],
    ['bad media reference', `{${msg},"media":"nope"}`, /"media" must be a sha256/],
    ['empty id', '{"type":"contact","id":"","name":"x"}', /"id" must be a non-empty string/],
    ['number as text', `{${msg},"text":5}`, /"text" must be a string/],
    ['lone surrogate', `{${msg},"text":"\\ud800"}`, /valid Unicode/],
    ['members not a list', '{"type":"conversation","id":"c","kind":"group","title":"","members":"u1"}', /"members" must be an array/],
    ['member twice', '{"type":"conversation","id":"c","kind":"group","title":"","members":["u1","u1"]}', /twice/],
    ['latitude out of range', `{${msg},"location":{"lat":91,"lon":0}}`, /"lat" must be a number from -90 to 90/],
    ['location not an object', `{${msg},"location":[1,2]}`, /"location" must be an object/],
    ['empty links', `{${msg},"links":[]}`, /"links" must be a non-empty array of objects/],
    ['link without url', `{${msg},"links":[{"text":"x"}]}`, /links\[0\] is missing "url"/],
    ['unknown link field', `{${msg},"links":[{"url":"u","title":"x"}]}`, /links\[0\] has an unknown field "title"/],
    ['links not objects', `{${msg},"links":["https://x"]}`, /"links" must be a non-empty array of objects/],
    ['fractional editedAt', `{${msg},"editedAt":1.5}`, /"editedAt" must be an integer/],
    ['empty fileName', `{${msg},"fileName":""}`, /"fileName" must be a non-empty string/],
    ['null forwardedFrom', `{${msg},"forwardedFrom":null}`, /"forwardedFrom" is null/],
    ['__proto__ key', `{${msg},"__proto__":{"x":1}}`, /unknown field "__proto__"/]
  ]
  for (const [name, line, reason] of refused) {
    it(`refuses ${name}`, () => {
      expect(() => parseLine(line)).toThrow(reason)
      expect(() => parseLine(line)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
    })
  }

  it('accepts keys in any order and returns only the format\'s fields', () => {
    expect(parseLine('{"name":"A","id":"u","type":"contact"}')).toEqual({ type: 'contact', id: 'u', name: 'A' })
  })
})

describe('splitting a stream into lines', () => {
  async function collect (chunks: Array<Uint8Array | string>): Promise<Array<[number, string]>> {
    const out: Array<[number, string]> = []
    for await (const l of readLines((async function * () { yield * chunks })())) out.push([l.n, l.text])
    return out
  }

  it('numbers lines, accepts CRLF and a missing final newline, and joins lines split across chunks', async () => {
    const text = Buffer.from('a\r\n\nbé😀c\nlast')
    // Split inside the multi-byte characters too.
    const chunks = Array.from({ length: text.byteLength }, (_, i) => text.subarray(i, i + 1))
    expect(await collect(chunks)).toEqual([[1, 'a'], [2, ''], [3, 'bé😀c'], [4, 'last']])
    expect(await collect(['x\n'])).toEqual([[1, 'x']])
    expect(await collect([])).toEqual([])
  })

  it('refuses invalid UTF-8 and over-long lines with their line number', async () => {
    await expect(collect([Buffer.from('ok\n'), Buffer.from([0x7b, 0xff, 0x7d, 0x0a])])).rejects.toThrow('line 2: not valid UTF-8')
    const lines = async (max: number, chunks: string[]): Promise<void> => {
      for await (const _ of readLines((async function * () { yield * chunks })(), max)) { /* drain */ }
    }
    await expect(lines(4, ['ok\n', 'toolong\n'])).rejects.toThrow('line 2: longer than 4 bytes')
    await expect(lines(4, ['ok\nto', 'olo', 'ng'])).rejects.toThrow('line 2: longer than 4 bytes')
  })
})
