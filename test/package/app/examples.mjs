// The package's smallest store, used from the install as a reader uses it (by its path in the package:
// the examples are files to copy, not exports), with nothing of this repository's. It imports
// 'chat-ferry' by its name, which the package resolves to itself.
import { MemoryHistory } from './node_modules/chat-ferry/examples/memory-history.js'

const history = new MemoryHistory()
await history.commit({
  conversations: [{ id: 'c', kind: 'direct', title: 'Ana', members: ['me', 'ana'] }],
  messages: [{ conversation: 'c', id: 'm2', sender: 'me', ts: 2, kind: 'text', text: 'hello' }, { conversation: 'c', id: 'm1', sender: 'ana', ts: 1, kind: 'text', text: 'hi' }]
})
const chats = (await history.conversations()).map(c => [c.conversation.title, c.messages])
const texts = (await history.messages('c', undefined, 10)).map(m => m.text)
process.stdout.write(JSON.stringify({ chats, texts }))
