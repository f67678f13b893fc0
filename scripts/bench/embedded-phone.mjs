// One phone of an app that embeds Ferry, as an app runs it: the built package (dist/, `npm run build`)
// through createFerry, in plain Node (no tsx). scripts/bench/embedded-app.ts runs two of these; it says
// why. JSON lines on stdout: code (the sender), verified, error.
//
//   node scripts/bench/embedded-phone.mjs send STORE on|off
//   node scripts/bench/embedded-phone.mjs receive STORE on|off CODE ADDR[,ADDR...]
import { multiaddr } from '@multiformats/multiaddr'

const [role, store, memory, code, addrs] = process.argv.slice(2)
const { createFerry, formatCode, generateCode, parseCode } = await import(new URL('../../dist/node.js', import.meta.url).href)
const say = event => process.stdout.write(`${JSON.stringify(event)}\n`)

try {
  if ((role !== 'send' && role !== 'receive') || store === undefined || (memory !== 'on' && memory !== 'off')) throw new Error('usage: send|receive STORE on|off [CODE ADDRS]')
  // mDNS off: the bench's phones find each other by the address printed, never on the machine's network.
  const phone = await createFerry(store, { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, ...(memory === 'off' ? { memory: false } : {}) })
  try {
    if (role === 'send') {
      const fresh = generateCode()
      say({ event: 'code', code: formatCode(fresh), addrs: phone.addresses().map(String) })
      await phone.send({ code: fresh })
    } else {
      await phone.receive({ code: parseCode(code), addrs: addrs.split(',').map(a => multiaddr(a)) })
    }
    say({ event: 'verified' })
  } finally {
    await phone.stop()
  }
} catch (err) {
  say({ event: 'error', message: err?.message ?? String(err) })
  process.exitCode = 1
}
