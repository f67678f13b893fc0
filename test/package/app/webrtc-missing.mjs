// An app that asks for WebRTC where @libp2p/webrtc (an optional peer dependency) is not installed: it
// must be told, as a FerryError, to install it. Prints what it was told, as JSON, for ../install.test.ts.
import { join } from 'node:path'
import { isFerryError } from 'chat-ferry'
import { createFerry } from 'chat-ferry/node'

const [dir] = process.argv.slice(2)
try {
  const phone = await createFerry(join(dir, 'phone'), { transport: 'webrtc', listen: ['/ip4/127.0.0.1/udp/0/webrtc-direct'] })
  await phone.stop()
  console.log(JSON.stringify({ started: true }))
} catch (err) {
  console.log(JSON.stringify({ ferryError: isFerryError(err), code: err?.code, message: err?.message, details: err?.details }))
}
