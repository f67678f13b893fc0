import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { detectFileFormat, detectFormat, openExport } from '../../../src/sim/importers/detect.js'
import { cleanupTempDirs, tempDir } from '../../helpers/stores.js'

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures')

afterAll(() => cleanupTempDirs())

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
    // A whole single-chat result.json minified onto one line: a "type" too, but Telegram's.
    expect(detectFormat('{"name":"Alice","type":"personal_chat","id":2000,"messages":[{"id":1,"type":"message","date":"2024-02-01T10:00:00","from":"Alice","text":"hi"}]}\n', 'result.json')).toBe('telegram')
    expect(detectFormat('\ufeff{\n "about": "x"', 'result.json')).toBe('telegram')
  })

  it('WhatsApp: a first line that is an Android or iOS message header (BOM and U+200E ignored)', () => {
    expect(detectFormat('12/31/23, 21:05 - Alice: hi\n')).toBe('whatsapp')
    expect(detectFormat('31/12/2023, 21:05 - Messages are end-to-end encrypted.\n')).toBe('whatsapp')
    expect(detectFormat('\ufeff\u200e[31/12/2023, 21:05:33] Alice: hi\n')).toBe('whatsapp')
    expect(detectFormat('[12/31/23, 9:05:33 PM] Alice: hi\n')).toBe('whatsapp')
  })

  it('an empty or blank file is none; a broken canonical line is NDJSON (its import says what is wrong); anything else is none', () => {
    expect(detectFormat('')).toBeUndefined()
    expect(detectFormat('\ufeff\n  \r\n\t\n')).toBeUndefined()
    expect(detectFormat('{"type":"contact",\n')).toBe('ndjson')
    expect(detectFormat('hello world\n')).toBeUndefined()
    expect(detectFormat('{ not json')).toBeUndefined()
    expect(detectFormat('{\n  "name": "ferry",\n  "version": "1"\n}', 'notes.txt')).toBeUndefined()
    // A .json document is read as Telegram's (its "chats" may lie past the first bytes); the import then says it is not one.
    expect(detectFormat('{\n  "name": "ferry",\n  "version": "1"\n}', 'package.json')).toBe('telegram')
  })

  it('old and localized WhatsApp headers', () => {
    expect(detectFormat('30/08/16, 17:03:58: Messages you send to this chat and calls are now secured with end-to-end encryption.\n')).toBe('whatsapp')
    expect(detectFormat('08/10/13 14:07:41: Marta: ciao\n')).toBe('whatsapp')
    expect(detectFormat('31/12/2023 à 21:05 - Claire : Bonne année !\n')).toBe('whatsapp')
    expect(detectFormat('20/08/24 14.30 - Budi: Halo\n')).toBe('whatsapp')
  })

  it('a Telegram HTML page given alone is named as such, as its folder is', async () => {
    const dir = tempDir()
    for (const name of ['messages.html', 'messages2.html']) {
      writeFileSync(join(dir, name), '<!DOCTYPE html>\n<html><head><meta charset="utf-8"/><title>Exported Data</title></head><body></body></html>\n')
      await expect(openExport(join(dir, name))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/is a Telegram export in HTML: .*Machine-readable JSON/) })
    }
  })

  it('a missing file is bad input', async () => {
    await expect(detectFileFormat(join(FIXTURES, 'nope.json'))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/nope\.json does not exist$/) })
  })
})
