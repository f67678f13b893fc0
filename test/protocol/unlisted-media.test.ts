import { afterAll, expect, it } from 'vitest'
import { ErrorCode } from '../../src/errors.js'
import type { Message } from '../../src/store/model.js'
import { cleanupTempDirs, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer } from '../helpers/transfer.js'

// An app's own store (the port's HistorySource) may hold a message naming a photo whose record it never
// wrote: Ferry cannot refuse that write, so the old phone refuses to send it, saying it is its own
// store's fault, where the new phone would otherwise fail with a protocol error blamed on the old one.

afterAll(async () => {
  await closeJournals()
  cleanupTempDirs()
})

it('the old phone refuses to send a message naming media its store does not list, as its store\'s fault', async () => {
  const source = openStore()
  const sha = 'b'.repeat(64)
  const photo: Message = { conversation: 'c', id: 'p1', sender: 'ana', ts: 2, kind: 'image', media: sha }
  // Through the port's commit, as a store of the app's own might hold it (putMessages refuses it).
  await source.commit({
    conversations: [{ id: 'c', kind: 'direct', title: 'Ana', members: ['ana'] }],
    messages: [{ conversation: 'c', id: 't1', sender: 'ana', ts: 1, kind: 'text', text: 'look' }, photo]
  })
  source.messagesDone()
  const target = openStore()
  const r = await runTransfer(source, target)
  expect(r.senderError?.code).toBe(ErrorCode.STORE)
  expect(r.senderError?.message).toBe(`this phone's store has a message referring to a photo or file it holds no record of: message "c"/"p1" names media ${sha}, ` +
    'which the store\'s media() does not list; put its record in the store (or take the reference out of the message), then send again')
  expect(r.receiverError?.code).toBe(ErrorCode.PEER_ERROR)
  expect(r.receiverError?.details?.peerCode).toBe(ErrorCode.STORE)
  source.close()
  target.close()
})
