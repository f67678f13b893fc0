// A loopback TCP port that drops every new connection's packets, as an address behind a firewall that
// drops does, made without root: a real process listens there with a backlog of one and never accepts
// (its event loop is held), and two connections fill its accept queue. The kernel then drops each SYN
// that comes (nothing answers, not even with a refusal) until the process goes.
import { spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'

export interface SilentPort {
  port: number
  stop(): Promise<void>
}

const LISTENER = `
const server = require('node:net').createServer()
server.listen({ host: process.argv[1], port: 0, backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n')
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
})`

export async function silentPort (host = '127.0.0.1'): Promise<SilentPort> {
  const child = spawn(process.execPath, ['-e', LISTENER, host], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => { resolve(Number(String(d).trim())) })
    child.once('exit', code => { reject(new Error(`the silent listener exited (${String(code)}) before listening`)) })
  })
  // The kernel completes the handshake for as many as the queue holds: these fill it.
  const fillers: Socket[] = []
  for (let i = 0; i < 2; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, host)
      fillers.push(s)
      s.once('connect', resolve)
      s.once('error', reject)
    })
  }
  return {
    port,
    stop: async () => {
      for (const s of fillers) s.destroy()
      child.kill()
      await exited
    }
  }
}
