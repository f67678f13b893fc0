import { afterEach, describe, expect, it } from 'vitest'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { PairingRecords, TOKEN_TTL_MS, type PairingRecord } from '../../src/journal/pairing-records.js'
import { jsonValue } from '../../src/journal/journal.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

const journals: NodeJournal[] = []
afterEach(async () => {
  for (const j of journals.splice(0)) await j.close()
  cleanupTempDirs()
})

const record: PairingRecord = {
  role: 'receiver',
  peerId: '12D3KooWExamplePeer',
  token: 'ab'.repeat(32),
  nameplate: '7',
  addrs: ['/ip4/127.0.0.1/tcp/4001'],
  createdAt: 1_700_000_000_000
}

describe('pairing records', () => {
  it('keep the paired phone across a restart until forgotten', async () => {
    const dir = tempDir()
    const first = NodeJournal.open(dir)
    journals.push(first)
    expect(await new PairingRecords(first).load()).toBeUndefined()
    await new PairingRecords(first).save(record)
    await first.close()
    const again = NodeJournal.open(dir)
    journals.push(again)
    const records = new PairingRecords(again, { now: () => record.createdAt + 60_000 })
    expect(await records.load()).toEqual(record)
    await records.forget()
    expect(await records.load()).toBeUndefined()
  })

  it('expire 24 hours after their last use; a use starts the 24 hours again; reading never writes', async () => {
    const j = NodeJournal.open(tempDir())
    journals.push(j)
    let now = record.createdAt
    const records = new PairingRecords(j, { now: () => now })
    await records.save(record)
    now += TOKEN_TTL_MS - 1
    expect(await records.load()).toEqual(record)
    await records.touch(record.peerId) // a resume, a minute before the end
    now += TOKEN_TTL_MS - 1
    expect(await records.load()).toEqual({ ...record, lastUsedAt: record.createdAt + TOKEN_TTL_MS - 1 })
    now += 1
    expect(await records.load()).toBeUndefined()
    const raw = await j.get('pairing')
    expect(await records.loadOrExpired()).toEqual({ expired: { ...record, lastUsedAt: record.createdAt + TOKEN_TTL_MS - 1 } })
    expect(await j.get('pairing')).toEqual(raw) // inspect reads it without the store lock: it must not write
    // Touching for another peer changes nothing: only the phone paired with now is kept alive.
    now = record.createdAt
    await records.save(record)
    await records.touch('12D3KooWSomeoneElse')
    expect(await records.load()).toEqual(record)
    expect(records.live(record.createdAt)).toBe(true)
    expect(records.live(record.createdAt - TOKEN_TTL_MS)).toBe(false)
  })

  it('refuse a damaged record with a typed error that says what to do', async () => {
    const j = NodeJournal.open(tempDir())
    journals.push(j)
    const values = [{ ...record, token: 'short' }, { ...record, addrs: 'one' }, { ...record, peerId: 5 }, { ...record, lastUsedAt: 'today' }].map(jsonValue)
    values.push(new TextEncoder().encode('{"role":"receiver","pe'), new Uint8Array([0xff, 0xfe]), jsonValue(null))
    for (const value of values) {
      await j.write([{ key: 'pairing', value }])
      await expect(new PairingRecords(j).load()).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('pair again with a code') })
    }
  })
})
