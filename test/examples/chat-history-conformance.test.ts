import { join } from 'node:path'
import { afterAll } from 'vitest'
import { ChatDb } from '../../examples/chat-app/chat-db.js'
import { ChatHistory } from '../../examples/chat-app/chat-history.js'
import { describeHistoryConformance } from '../helpers/history-conformance.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// The example chat app's store (examples/chat-app) against the History port's contract.

afterAll(cleanupTempDirs)

describeHistoryConformance('the example chat app', () => {
  const app = ChatDb.open(tempDir('chat-app-'))
  return { history: new ChatHistory(app), close: () => app.close(), fileDir: join(app.dir, 'attachments') }
})
