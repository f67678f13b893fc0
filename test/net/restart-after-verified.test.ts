import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import type { FerryEvent, ReceiveResult } from '../../src/net/ferry-service.js'
import { generateCode } from '../../src/pairing/index.js'
import { exportText, fillStore, tempDir } from '../helpers/stores.js'

// A new phone that verified a history and was stopped (killed, its battery gone) before it forgot the
// pairing: the old phone may have heard Verified and gone. Started again without a code, it must not end
// in "cannot reach the other phone" about a history that is verified here, nor undo any of it: it tries
// to tell the old phone, and otherwise reports the history verified, as a link that died at the end does.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const PAIRING_KEY = 'pairing'
const { phones } = stoppedAfterEach()

async function phone (): Promise<Ferry> {
  const p = await createFerry(tempDir('restart-'), { listen: LOOPBACK })
  phones.push(p)
  return p
}

/**
 * A first transfer to verified, with the new phone's pairing record as it was while the transfer ran:
 * putting it back is what a phone killed between the old phone's hang-up and its own forgetting holds.
 */
async function verifiedTransfer (): Promise<{ old: Ferry, fresh: Ferry, result: ReceiveResult, record: Uint8Array, addrs: ReturnType<Ferry['addresses']> }> {
  const old = await phone()
  await fillStore(old.store, { conversations: 3, messagesPerConversation: 40, mediaSizes: [70_000, 300_000] })
  const fresh = await phone()
  const code = generateCode()
  let record: Uint8Array | undefined
  const offered = old.send({ code })
  const result = await fresh.receive({
    addrs: old.addresses(),
    code,
    onEvent: e => { if (e.type === 'paired') void fresh.journal.get(PAIRING_KEY).then(v => { record = v }) }
  })
  await offered
  expect(record, 'the pairing record while the transfer ran').toBeDefined()
  expect(await fresh.journal.get(PAIRING_KEY), 'forgotten once verified').toBeUndefined()
  return { old, fresh, result, record: record as Uint8Array, addrs: old.addresses() }
}

describe('a new phone started again after it verified, before it forgot the pairing', () => {
  it('reports the history verified when the old phone heard and is gone, and keeps all of it', async () => {
    const { old, fresh, result, record, addrs } = await verifiedTransfer()
    const source = await exportText(old.store)
    await old.stop()
    await fresh.journal.write([{ key: PAIRING_KEY, value: record }])

    const events: FerryEvent[] = []
    const again = await fresh.receive({ addrs, tellAgainMs: 1_000, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(again.summary).toEqual(result.summary)
    expect(again.progress).toEqual(result.progress)
    // Every count the receive reported, a damaged file's and what stayed deleted included.
    expect(again.stats).toEqual(result.stats)
    expect(events.filter(e => e.type === 'verified')).toHaveLength(1)
    expect(await fresh.journal.get(PAIRING_KEY)).toBeUndefined()
    expect(await exportText(fresh.store)).toBe(source)
  }, 60_000)

  it('reports it at once when the old phone is there but no longer holds the pairing (it heard)', async () => {
    const { old, fresh, result, record, addrs } = await verifiedTransfer()
    await fresh.journal.write([{ key: PAIRING_KEY, value: record }])
    // The old phone offers its history to another phone now: its pairing with this one is gone.
    const other = old.send({ code: generateCode() })
    other.catch(() => {})

    // Told to keep trying for far longer than this test may take: the old phone's answer ends it.
    const again = await fresh.receive({ addrs, tellAgainMs: 10 * 60_000, retryForMs: 10 * 60_000 })
    expect(again.summary).toEqual(result.summary)
    expect(await fresh.journal.get(PAIRING_KEY)).toBeUndefined()
  }, 30_000)

  it('resumes, not reports, when the pairing was used again after the verification', async () => {
    const { old, fresh, record, addrs } = await verifiedTransfer()
    await old.stop()
    // A pairing used after the verification (a later session began): that session's history is not known
    // verified, so a start without the old phone fails as any resume does.
    const later = JSON.parse(new TextDecoder().decode(record)) as { lastUsedAt: number }
    later.lastUsedAt = Date.now() + 60_000
    await fresh.journal.write([{ key: PAIRING_KEY, value: new TextEncoder().encode(JSON.stringify(later)) }])
    await expect(fresh.receive({ addrs, tellAgainMs: 500, retryForMs: 1_500 })).rejects.toMatchObject({ code: 'NO_PEER' })
  }, 30_000)
})
