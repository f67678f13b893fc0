import { afterAll } from 'vitest'
import { describeHistoryConformance } from '../helpers/history-conformance.js'
import { keepingEncodings } from '../helpers/kept-encodings.js'
import { cleanupTempDirs, openStore } from '../helpers/stores.js'

// The simulator's store against the History port's contract, with the checks every store must pass;
// then the same store keeping each message's encoding beside it, as a store that offers encodedMessages
// (the browser's, whose own check runs in Chromium: test/browser/idb-history.test.ts).

afterAll(cleanupTempDirs)

describeHistoryConformance('the simulator\'s SQLite store', () => {
  const store = openStore()
  return { history: store, close: () => store.close(), fileDir: store.dir }
}, {
  knownDeviations: {
    // Messages committed into an empty store go in without the (conversation, id) key (a bulk load,
    // sqlite-store.ts deferMessageKey): the same message committed twice before anything reads is
    // stored twice, and the next read fails with ORDER. Ferry's receiver never does that.
    'upserts by (conversation, id)': 'a bulk load does not upsert'
  }
})

describeHistoryConformance('the SQLite store keeping each message\'s encoding', () => {
  const store = openStore()
  return { history: keepingEncodings(store).sink, close: () => store.close(), fileDir: store.dir }
}, {
  keepsEncodings: true,
  knownDeviations: { 'upserts by (conversation, id)': 'a bulk load does not upsert' }
})
