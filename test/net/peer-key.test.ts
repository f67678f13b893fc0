import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import { loadOrCreatePeerKey, peerKeyPath } from '../../src/net/peer-key.js'

describe('peer key', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'ferry-key-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('creates an Ed25519 key once, mode 0600, and loads the same key after', async () => {
    const first = await loadOrCreatePeerKey(join(dir, 'store'))
    expect(first.created).toBe(true)
    expect(first.privateKey.type).toBe('Ed25519')
    expect(statSync(first.path).mode & 0o777).toBe(0o600)
    const second = await loadOrCreatePeerKey(join(dir, 'store'))
    expect(second.created).toBe(false)
    expect(peerIdFromPrivateKey(second.privateKey).equals(peerIdFromPrivateKey(first.privateKey))).toBe(true)
    // The file is the protobuf marshalling other libp2p tools read.
    expect(Buffer.from(readFileSync(first.path)).equals(Buffer.from(privateKeyToProtobuf(first.privateKey)))).toBe(true)
  })

  it('gives processes racing on a new directory one identity', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, async () => await loadOrCreatePeerKey(dir)))
    const ids = new Set(keys.map(k => peerIdFromPrivateKey(k.privateKey).toString()))
    expect(ids.size).toBe(1)
    expect(keys.filter(k => k.created).length).toBe(1)
  })

  it('tightens a key file readable by others', async () => {
    const { path } = await loadOrCreatePeerKey(dir)
    chmodSync(path, 0o644)
    await loadOrCreatePeerKey(dir)
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })

  it('refuses a damaged or foreign key file with a typed error, without replacing it', async () => {
    writeFileSync(peerKeyPath(dir), 'not a key', { mode: 0o600 })
    await expect(loadOrCreatePeerKey(dir)).rejects.toSatisfy(err => isFerryError(err, 'BAD_INPUT'))
    expect(readFileSync(peerKeyPath(dir), 'utf8')).toBe('not a key')

    writeFileSync(peerKeyPath(dir), privateKeyToProtobuf(await generateKeyPair('secp256k1')), { mode: 0o600 })
    await expect(loadOrCreatePeerKey(dir)).rejects.toSatisfy(err => isFerryError(err, 'BAD_INPUT'))
  })

  it('reports an unwritable directory as a store error', async () => {
    writeFileSync(join(dir, 'file'), '')
    await expect(loadOrCreatePeerKey(join(dir, 'file', 'sub'))).rejects.toSatisfy(err => isFerryError(err, 'STORE'))
  })
})
