import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { detectFileFormat, detectFormat } from '../../../src/sim/importers/detect.js'

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures')

describe('import format detection', () => {
  it('detects the fixtures by content', async () => {
    expect(await detectFileFormat(join(FIXTURES, 'edge-cases.ndjson'))).toBe('ndjson')
    expect(await detectFileFormat(join(FIXTURES, 'telegram', 'result.json'))).toBe('telegram')
    expect(await detectFileFormat(join(FIXTURES, 'telegram', 'single', 'result.json'))).toBe('telegram')
    expect(await detectFileFormat(join(FIXTURES, 'whatsapp', 'android', 'WhatsApp Chat with Family.txt'))).toBe('whatsapp')
    expect(await detectFileFormat(join(FIXTURES, 'whatsapp', 'ios', 'WhatsApp Chat - Dave', '_chat.txt'))).toBe('whatsapp')
  })

  it('NDJSON: a first line that is a whole record, whatever the name', () => {
    expect(detectFormat('{"type":"contact","id":"u","name":"A"}\n', 'x.json')).toBe('ndjson')
    expect(detectFormat('\n\n{"type":"message","conversation":"c","id":"m","sender":"u","ts":1,"kind":"text"}')).toBe('ndjson')
  })

  it('Telegram: a JSON document with "messages" or "chats", even on one line; or any multi-line JSON named .json', () => {
    expect(detectFormat('{\n "name": "A",\n "type": "personal_chat",\n "id": 1,\n "messages": [')).toBe('telegram')
    expect(detectFormat('{"about":"x","chats":{"list":[]}}')).toBe('telegram')
    expect(detectFormat('\ufeff{\n "about": "x"', 'result.json')).toBe('telegram')
  })

  it('WhatsApp: a first line that is an Android or iOS message header (BOM and U+200E ignored)', () => {
    expect(detectFormat('12/31/23, 21:05 - Alice: hi\n')).toBe('whatsapp')
    expect(detectFormat('31/12/2023, 21:05 - Messages are end-to-end encrypted.\n')).toBe('whatsapp')
    expect(detectFormat('\ufeff\u200e[31/12/2023, 21:05:33] Alice: hi\n')).toBe('whatsapp')
    expect(detectFormat('[12/31/23, 9:05:33 PM] Alice: hi\n')).toBe('whatsapp')
  })

  it('anything else (and an empty file) is left to the NDJSON importer, which explains what is wrong', () => {
    expect(detectFormat('')).toBe('ndjson')
    expect(detectFormat('hello world\n')).toBe('ndjson')
    expect(detectFormat('{ not json')).toBe('ndjson')
  })

  it('a missing file is bad input', async () => {
    await expect(detectFileFormat(join(FIXTURES, 'nope.json'))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/cannot read .*nope\.json: ENOENT/) })
  })
})
