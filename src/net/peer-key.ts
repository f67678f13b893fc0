import { fsyncDir, writeSyncedFile } from '../durable-fs.js'
import { closeSync, fchmodSync, fstatSync, linkSync, openSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { makePrivateDir } from '../private-files.js'

/**
 * The phone's libp2p identity. It lives in the store directory so the peer id survives restarts:
 * a receiver that reconnects after a crash must be the same peer the sender paired with, because
 * pairing binds both peer ids and the sender only accepts transfer streams from that peer.
 */
export const PEER_KEY_FILE = 'peer.key'

export function peerKeyPath (dir: string): string {
  return join(dir, PEER_KEY_FILE)
}

export interface LoadedPeerKey {
  privateKey: PrivateKey
  /** True when this call generated the key (first start with this directory). */
  created: boolean
  path: string
}

/**
 * Loads `<dir>/peer.key` (protobuf-marshalled Ed25519 key, as @libp2p/crypto writes it), or creates it.
 *
 * Creation is race-free: the key is written to a private temporary file, fsynced, then hard-linked
 * into place, which fails if another process won the race; the loser then reads the winner's key,
 * so two processes started on one directory never end up with two identities.
 */
export async function loadOrCreatePeerKey (dir: string): Promise<LoadedPeerKey> {
  const path = peerKeyPath(dir)
  const existing = readKey(path)
  if (existing !== undefined) return { privateKey: existing, created: false, path }

  try {
    makePrivateDir(dir)
  } catch (err) {
    throw storeError(err, `cannot create ${dir}`)
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
  try {
    writeSyncedFile(tmp, privateKeyToProtobuf(key), 0o600)
    try {
      linkSync(tmp, path)
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err
      const winner = readKey(path)
      if (winner === undefined) throw err
      return { privateKey: winner, created: false, path }
    }
    fsyncDir(dir)
  } catch (err) {
    throw storeError(err, `cannot write the peer key ${path}`)
  } finally {
    rmSync(tmp, { force: true })
  }
  return { privateKey: key, created: true, path }
}

function readKey (path: string): PrivateKey | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined
    throw storeError(err, `cannot read the peer key ${path}`)
  }
  let bytes: Uint8Array
  try {
    // A private key readable by others is a leaked identity; tighten rather than refuse, since
    // copying a store between machines (backup/restore tools, adb pull) often loses the mode.
    const st = fstatSync(fd)
    if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600)
    bytes = readFileSync(fd)
  } catch (err) {
    throw storeError(err, `cannot read the peer key ${path}`)
  } finally {
    closeSync(fd)
  }
  try {
    const key = privateKeyFromProtobuf(bytes)
    if (key.type !== 'Ed25519') throw new Error(`a ${key.type} key, Ferry uses Ed25519`)
    return key
  } catch (err) {
    throw new FerryError(ErrorCode.BAD_INPUT,
      `${path} is not a valid peer key (${(err as Error).message}); delete it to start with a new identity (the phone must then pair again)`,
      { path }, { cause: err })
  }
}
