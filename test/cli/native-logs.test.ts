import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ferry, ROOT } from '../helpers/ferry-sync.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// The native WebRTC libraries (node-datachannel's libdatachannel and libjuice) log by themselves. What
// they would print lands on the CLI's stdout, where --json promises one JSON event a line and a person
// reads Ferry's own words: a webrtc-direct UDP port another program holds is the failure that makes
// them speak first, before any connection.

afterAll(() => cleanupTempDirs())

describe('ferry send over WebRTC on a UDP port another program holds', () => {
  it('with --json prints only JSON on stdout: the error event, none of the native libraries\' lines', async () => {
    const store = join(tempDir(), 'phone')
    expect(ferry('import', join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson'), '--store', store).status).toBe(0)
    const socket = createSocket('udp4')
    await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
    try {
      const listen = `/ip4/127.0.0.1/udp/${socket.address().port}/webrtc-direct`
      const r = ferry('send', '--store', store, '--transport', 'webrtc', '--listen', listen, '--no-mdns', '--no-sweep', '--json')
      expect(r.status, r.stderr).toBe(2)
      const lines = r.stdout.split('\n').filter(l => l !== '')
      expect(lines.map(l => { try { return JSON.parse(l).event } catch { return l } })).toEqual(['error'])
      expect(JSON.parse(lines[0])).toMatchObject({ code: 'BAD_INPUT', details: { listen } })
      // And in words, on stderr, only Ferry's sentence.
      expect(r.stderr).toBe(`ferry: cannot listen on 127.0.0.1:${socket.address().port} (UDP): the port is taken, or this machine has no such address (use udp/0 for any free port) [BAD_INPUT]\n`)
    } finally {
      await new Promise<void>(resolve => socket.close(resolve))
    }
  })
})
