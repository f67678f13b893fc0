// @ts-check
// A web app that receives a phone's chat history into IndexedDB with nothing but the package
// ('chat-ferry', 'chat-ferry/web', and @libp2p/webrtc beside it). Open it with the old phone's pairing
// link after the '#' (what `ferry send --transport webrtc` shows); opened without one, it lists what this
// browser holds. docs/browser-app.md shows this file; test/browser/web-app.test.ts bundles and runs it.
import { ferry, parseQrPayload, qrDialAddrs } from 'chat-ferry'
import { browserBatchInflate, canInflateRaw, createBrowserNode, createTabLock, IdbHistoryStore, IdbJournal, loadOrCreateKey, openFerryDb } from 'chat-ferry/web'

const status = /** @type {HTMLElement} */ (document.getElementById('status'))
const chats = /** @type {HTMLElement} */ (document.getElementById('chats'))

// One database holds the history, Ferry's journal and this browser's peer key.
const db = await openFerryDb('my-app-ferry')
const history = await IdbHistoryStore.open(db)
const journal = new IdbJournal(db)
const node = await createBrowserNode(await loadOrCreateKey(db), {
  ferry: ferry({ history, journal, batchDeflate: canInflateRaw() ? browserBatchInflate : undefined })
})
// One tab at a time receives into the database.
const lock = createTabLock(db, 'my-app-receive')

// The pairing link as the old phone shows it (its own escapes kept: it is not decoded).
const link = location.hash.slice(1)
if (link.startsWith('ferry://pair?')) {
  const held = await lock.tryAcquire()
  if (held === undefined) {
    status.textContent = 'Another tab is receiving.'
  } else {
    // What another tab wrote before this one took the lock is read afresh.
    history.takeOver()
    journal.parts.takeOver()
    try {
      const qr = parseQrPayload(link)
      const result = await node.services.ferry.receive({
        addrs: qrDialAddrs(qr),
        code: qr.code,
        qrKey: qr.key,
        signal: held.lost,
        onEvent: e => { if (e.type === 'progress') status.textContent = `${e.progress.messages}/${e.progress.totalMessages} messages` }
      })
      status.textContent = `Verified: ${result.progress.messages} messages in ${result.summary.length} chats.`
    } catch (err) {
      status.textContent = `Not received: ${/** @type {Error} */ (err).message}`
    } finally {
      await held.release()
    }
  }
} else {
  status.textContent = 'Held in this browser:'
}
// What the history holds, read back from IndexedDB.
chats.textContent = (await history.conversations()).map(c => `${c.conversation.title}: ${c.messages}`).join('\n')
document.body.dataset.done = 'true'
