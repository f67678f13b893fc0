// A web app reaching for the Node part: its bundle must fail to build, not ship stubs.
export { SqliteChatStore } from 'chat-ferry/node'
