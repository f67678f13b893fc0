import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import { generateCode } from '../../src/pairing/index.js'
import { exportText, fillStore, tempDir } from '../helpers/stores.js'

// A new phone that stays open after it verified (the browser page) and could not tell the old phone:
// that phone was stopped after it sent everything and before it heard Verified, so, started again, it
// waits for this one. With keepUnheard the new phone keeps the pairing, and a later receive without a
// code tells it, however long after the first one gave up.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const PAIRING_KEY = 'pairing'
const { phones } = stoppedAfterEach()

async function phone (dir: string): Promise<Ferry> {
  const p = await createFerry(dir, { listen: LOOPBACK })
  phones.push(p)
  return p
}

describe('a receive that keeps an unheard verification', () => {
  it('keeps the pairing when the old phone cannot be told, and tells it once it is started again', async () => {
    const oldDir = tempDir('unheard-old-')
    const old = await phone(oldDir)
    await fillStore(old.store, { conversations: 3, messagesPerConversation: 40, mediaSizes: [70_000, 300_000] })
    const source = await exportText(old.store)
    const fresh = await phone(tempDir('unheard-new-'))
    const code = generateCode()
    // Each phone's pairing record as it was while the transfer ran: put back, they are what phones
    // stopped between the last frame and the hang-up hold (the old phone never heard Verified).
    const records: { old?: Uint8Array, fresh?: Uint8Array } = {}
    const offered = old.send({ code, onEvent: e => { if (e.type === 'paired') void old.journal.get(PAIRING_KEY).then(v => { records.old = v }) } })
    const first = await fresh.receive({
      addrs: old.addresses(),
      code,
      onEvent: e => { if (e.type === 'paired') void fresh.journal.get(PAIRING_KEY).then(v => { records.fresh = v }) }
    })
    await offered
    expect(records.old, 'the old phone\'s pairing record while the transfer ran').toBeDefined()
    expect(records.fresh, 'the new phone\'s pairing record while the transfer ran').toBeDefined()
    const oldAddrs = old.addresses()
    await old.journal.write([{ key: PAIRING_KEY, value: records.old }])
    await old.stop()
    await fresh.journal.write([{ key: PAIRING_KEY, value: records.fresh }])

    // The old phone is gone: the history is verified here, the old phone not told, the pairing kept.
    const events: FerryEvent[] = []
    const untold = await fresh.receive({ addrs: oldAddrs, keepUnheard: true, tellAgainMs: 500, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(untold.unheard).toBe(true)
    expect(untold.summary).toEqual(first.summary)
    expect(events.filter(e => e.type === 'verified')).toMatchObject([{ unheard: true }])
    expect(await fresh.journal.get(PAIRING_KEY)).toBeDefined()

    // Started again, the old phone resumes its pairing and waits; the next receive tells it.
    const again = await phone(oldDir)
    const resumed = again.send({})
    const told = await fresh.receive({ addrs: again.addresses(), keepUnheard: true, tellAgainMs: 30_000, retryForMs: 30_000 })
    expect(told.unheard).toBeUndefined()
    expect(told.summary).toEqual(first.summary)
    const heard = await resumed
    expect(heard.messages).toBe(heard.totalMessages)
    expect(await fresh.journal.get(PAIRING_KEY), 'forgotten once the old phone heard').toBeUndefined()
    expect(await again.journal.get(PAIRING_KEY), 'forgotten by the old phone too').toBeUndefined()
    expect(await exportText(fresh.store)).toBe(source)
  }, 60_000)
})
