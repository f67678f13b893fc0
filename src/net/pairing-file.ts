import { rmSync } from 'node:fs'
import { replaceFileDurably } from '../durable-fs.js'
import { readPrivateFile } from '../private-files.js'
import { join } from 'node:path'
import { ErrorCode, FerryError } from '../errors.js'

/**
 * What a phone remembers of the phone it paired with, so both can reconnect after a crash or a reboot
 * without a new code: the peer's id, the resume token derived from the PAKE key, and where it was last
 * seen. Lives beside the store, mode 0600: the token is a secret (a looser file is tightened on load, as
 * the peer key is).
 */
export interface PairingRecord {
  role: 'sender' | 'receiver'
  peerId: string
  /** Resume token, hex. */
  token: string
  nameplate: string
  /** Multiaddrs the peer was last reached at (receiver) or this phone listened on (sender). */
  addrs: string[]
  createdAt: number
}

const FILE = 'pairing.json'

export function pairingPath (storeDir: string): string {
  return join(storeDir, FILE)
}

export function loadPairing (storeDir: string): PairingRecord | undefined {
  let text: string
  try {
    text = readPrivateFile(pairingPath(storeDir)).toString('utf8')
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const r = JSON.parse(text) as PairingRecord
    if (typeof r.peerId !== 'string' || !/^[0-9a-f]{64}$/.test(r.token) || !Array.isArray(r.addrs)) throw new Error('fields missing')
    return r
  } catch (err) {
    throw new FerryError(ErrorCode.BAD_INPUT, `${pairingPath(storeDir)} is damaged (${(err as Error).message}); delete it to pair again with a code`)
  }
}

/** A crash while saving leaves the old record or the new, never half. */
export function savePairing (storeDir: string, record: PairingRecord): void {
  replaceFileDurably(pairingPath(storeDir), JSON.stringify(record, null, 2) + '\n', 0o600)
}

export function forgetPairing (storeDir: string): void {
  rmSync(pairingPath(storeDir), { force: true })
}
