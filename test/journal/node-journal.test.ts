import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { fromJson, jsonValue } from '../../src/journal/journal.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// The journal on Node: an ordered key-value store in <store>/journal/journal.db.

const open: NodeJournal[] = []
function journal (dir = tempDir()): NodeJournal {
  const j = NodeJournal.open(dir)
  open.push(j)
  return j
}

afterEach(async () => {
  for (const j of open.splice(0)) await j.close()
  cleanupTempDirs()
})

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

async function listed (j: NodeJournal, prefix: string): Promise<string[]> {
  const keys: string[] = []
  for await (const [k] of j.list(prefix)) keys.push(k)
  return keys
}

describe('the Node journal', () => {
  it('lives in <store>/journal, private to its user, and keeps what it was given across reopening', async () => {
    const dir = tempDir()
    expect(NodeJournal.existing(dir)).toBeUndefined()
    expect(existsSync(join(dir, 'journal'))).toBe(false)
    const j = journal(dir)
    expect(statSync(join(dir, 'journal')).mode & 0o777).toBe(0o700)
    await j.write([{ key: 'a', value: bytes('one') }, { key: 'empty', value: new Uint8Array(0) }, { key: 'json', value: jsonValue({ n: 5, s: 'é' }) }])
    await j.close()
    const again = NodeJournal.existing(dir) as NodeJournal
    open.push(again)
    expect(again).toBeDefined()
    expect(await again.get('a')).toEqual(bytes('one'))
    expect(await again.get('empty')).toEqual(new Uint8Array(0))
    expect(fromJson(await again.get('json'))).toEqual({ n: 5, s: 'é' })
    expect(await again.get('missing')).toBeUndefined()
    expect(fromJson(undefined)).toBeUndefined()
  })

  it('replaces and deletes keys, and lists a prefix in key order', async () => {
    const j = journal()
    await j.write(['u/2', 'u/10', 't/x', 'u/1', 'u', 'u/1/a', 'v'].map(key => ({ key, value: bytes(key) })))
    await j.write([{ key: 'u/2', value: bytes('replaced') }, { key: 't/x' }, { key: 'never there' }])
    expect(await listed(j, 'u/')).toEqual(['u/1', 'u/1/a', 'u/10', 'u/2'])
    expect(await j.get('u/2')).toEqual(bytes('replaced'))
    expect(await j.get('t/x')).toBeUndefined()
    expect(await listed(j, 't/')).toEqual([])
    expect(await listed(j, '')).toEqual(['u', 'u/1', 'u/1/a', 'u/10', 'u/2', 'v'])
  })

  it('lists every key under a prefix, whatever characters follow it', async () => {
    const j = journal()
    const keys = ['p/a', 'p/~', 'p/\u00e9', 'p/\uffee', 'p/\u{1F600}', 'p/\u{10FFFF}', 'p0', 'q']
    await j.write(keys.map(key => ({ key, value: bytes(key) })))
    expect((await listed(j, 'p/')).sort()).toEqual(['p/a', 'p/~', 'p/\u00e9', 'p/\uffee', 'p/\u{1F600}', 'p/\u{10FFFF}'].sort())
  })

  it('deletes every key under a prefix in one write, whatever follows it, and nothing else', async () => {
    const j = journal()
    const under = ['u/t/', 'u/t/a', 'u/t/~', 'u/t/\u00e9', 'u/t/\uffee', 'u/t/\u{1F600}', 'u/t/\u{10FFFF}']
    const around = ['u/s', 'u/t', 'u/u', 'u/t0', 'u/\u00e9', 't/x', 'v']
    const highs = ['h\u{1F600}', 'h\u{1F600}a', 'h\uffff', 'h\uffffz', 'h\u{1F601}', 'h']
    await j.write([...under, ...around, ...highs].map(key => ({ key, value: bytes(key) })))
    await j.write([{ prefix: 'u/t/' }, { key: 't/x', value: bytes('in the same write') }])
    expect((await listed(j, '')).sort()).toEqual([...around, ...highs].sort())
    expect(await j.get('t/x')).toEqual(bytes('in the same write'))
    // Prefixes whose last character has no plain successor: a surrogate half, U+FFFF.
    await j.write([{ prefix: 'h\u{1F600}' }, { prefix: 'h\uffff' }])
    expect((await listed(j, 'h')).sort()).toEqual(['h', 'h\u{1F601}'])
    await j.write([{ prefix: 'nothing here' }])
    await j.write([{ prefix: '' }])
    expect(await listed(j, '')).toEqual([])
  })

  it('pages a long listing, in order, while the caller deletes what it has seen', async () => {
    const j = journal()
    const keys = Array.from({ length: 1000 }, (_, i) => `u/t/${String(i).padStart(12, '0')}`)
    await j.write(keys.map((key, i) => ({ key, value: bytes(String(i)) })))
    await j.write([{ key: 'u/s', value: bytes('after the run') }])
    const seen: string[] = []
    for await (const [k, v] of j.list('u/t/')) {
      expect(new TextDecoder().decode(v)).toBe(String(seen.length))
      seen.push(k)
      await j.write([{ key: k }]) // as an undo drops each entry once it is done
    }
    expect(seen).toEqual(keys)
    expect(await listed(j, 'u/')).toEqual(['u/s'])
  })

  it('applies every op of a write or none', async () => {
    const j = journal()
    await j.write([{ key: 'kept', value: bytes('before') }])
    const ops = [
      { key: 'kept', value: bytes('after') },
      { key: 'new', value: bytes('x') },
      { key: null as unknown as string, value: bytes('a key SQLite refuses') }
    ]
    await expect(j.write(ops)).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('writing the journal') })
    expect(await j.get('kept')).toEqual(bytes('before'))
    expect(await j.get('new')).toBeUndefined()
    await j.write(ops.slice(0, 2))
    expect(await j.get('kept')).toEqual(bytes('after'))
  })

  it('closes twice without complaint, and is a typed error once closed', async () => {
    const j = journal()
    await j.close()
    await j.close()
    await expect(j.get('a')).rejects.toMatchObject({ code: 'STORE' })
  })
})
