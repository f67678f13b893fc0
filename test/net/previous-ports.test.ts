import { describe, expect, it } from 'vitest'
import { keepPreviousPorts } from '../../src/net/previous-ports.js'
import { portFree } from '../../src/net/port-free.js'

// A restarted old phone asked for any port takes the one it paired on, so the new phone's redial of the
// addresses it knows finds it; each address family at its own port.

async function freePort (): Promise<number> {
  for (let p = 40_000 + Math.floor(Math.random() * 20_000); ; p++) if (await portFree('tcp', '0.0.0.0', p)) return p
}

describe('the ports a restarted old phone listens on', () => {
  it('are those it paired on, each family its own, and a fixed port stays as given', async () => {
    const four = await freePort()
    const six = await freePort()
    const previous = [`/ip4/192.168.1.20/tcp/${four}`, `/ip6/fe80::1/tcp/${six}`]
    expect(await keepPreviousPorts(['/ip4/0.0.0.0/tcp/0', '/ip6/::/tcp/0', '/ip4/0.0.0.0/tcp/4100'], previous))
      .toEqual([`/ip4/0.0.0.0/tcp/${four}`, `/ip6/::/tcp/${six}`, '/ip4/0.0.0.0/tcp/4100'])
  })

  it('leave an IPv6 listener on any port when it paired over IPv4 only', async () => {
    const four = await freePort()
    expect(await keepPreviousPorts(['/ip6/::/tcp/0'], [`/ip4/192.168.1.20/tcp/${four}`])).toEqual(['/ip6/::/tcp/0'])
  })
})
