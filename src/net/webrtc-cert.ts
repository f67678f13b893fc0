// The webrtc-direct listener's TLS (DTLS) certificate, kept beside the store.
//
// A webrtc-direct multiaddr carries the hash of the listener's certificate (/certhash/...), and the
// dialer refuses any other certificate. @libp2p/webrtc makes a new one on every start unless it is
// given a keychain and a persistent datastore; Ferry keeps neither, so it hands the transport a
// certificate of its own, stored in <store>/webrtc-cert.json (mode 0600: it holds the private key).
// A restarted sender then listens under the same certhash, and the address a receiver saved in its
// pairing record stays valid.
import 'reflect-metadata' // @peculiar/x509 (tsyringe) needs it loaded first
import { createHash, webcrypto } from 'node:crypto'
import { join } from 'node:path'
import { BasicConstraintsExtension, X509Certificate, X509CertificateGenerator } from '@peculiar/x509'
import type { TransportCertificate } from '@libp2p/webrtc'
import { replaceFileDurably } from '../durable-fs.js'
import { readPrivateFile } from '../private-files.js'

const FILE = 'webrtc-cert.json'
/** As @libp2p/webrtc's default: 14 days, renewed (here: at the next start) within a day of expiry. */
export const CERT_LIFESPAN_MS = 14 * 24 * 3600_000
export const CERT_RENEW_WITHIN_MS = 24 * 3600_000

export function certPath (storeDir: string): string {
  return join(storeDir, FILE)
}

/** sha256 of the DER certificate, as a multihash in multibase base64url: what /certhash/ holds. */
export function certhashOf (der: Uint8Array): string {
  const digest = createHash('sha256').update(der).digest()
  return 'u' + Buffer.concat([Buffer.from([0x12, 0x20]), digest]).toString('base64url')
}

/** A new self-signed ECDSA P-256 certificate (the curve browsers and the other libp2p stacks accept). */
export async function createCertificate (lifespanMs = CERT_LIFESPAN_MS): Promise<TransportCertificate> {
  const subtle = webcrypto.subtle
  const keys = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
  const notBefore = new Date()
  const notAfter = new Date(Date.now() + lifespanMs)
  // Whole seconds: https://github.com/PeculiarVentures/x509/issues/73
  notBefore.setMilliseconds(0)
  notAfter.setMilliseconds(0)
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^[89a-f]/, '1'),
    name: 'CN=ferry',
    notBefore,
    notAfter,
    keys,
    extensions: [new BasicConstraintsExtension(false, undefined, true)]
  }, webcrypto as unknown as Crypto)
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey)).toString('base64')
  return {
    privateKey: ['-----BEGIN PRIVATE KEY-----', ...(pkcs8.match(/.{1,64}/g) ?? []), '-----END PRIVATE KEY-----'].join('\n'),
    pem: cert.toString('pem'),
    certhash: certhashOf(new Uint8Array(cert.rawData))
  }
}

/**
 * The stored certificate if it is readable, consistent and not about to expire (within `renewWithinMs`);
 * undefined otherwise.
 */
export function readCertificate (storeDir: string, now = Date.now(), renewWithinMs = CERT_RENEW_WITHIN_MS): TransportCertificate | undefined {
  let stored: TransportCertificate
  try {
    stored = JSON.parse(readPrivateFile(certPath(storeDir)).toString('utf8')) as TransportCertificate
    if (typeof stored.privateKey !== 'string' || typeof stored.pem !== 'string' || typeof stored.certhash !== 'string') return undefined
    const cert = new X509Certificate(stored.pem)
    if (cert.notAfter.getTime() - renewWithinMs < now) return undefined
    // A hand-edited or mixed-up file would advertise a hash the listener cannot serve.
    if (certhashOf(new Uint8Array(cert.rawData)) !== stored.certhash) return undefined
  } catch {
    return undefined
  }
  return stored
}

/**
 * The certificate kept in the store, or a new one saved there (replacing one that is damaged or
 * expiring, which changes the certhash: receivers then learn the new address from the QR payload or
 * mDNS). While a pairing is under way (`paired`: a pairing record is kept) an expiring one is kept
 * until it actually expires: the paired receiver has its certhash saved and would not find a renewed one.
 */
export async function loadOrCreateCertificate (storeDir: string, paired = false): Promise<TransportCertificate> {
  const existing = readCertificate(storeDir, Date.now(), paired ? 0 : CERT_RENEW_WITHIN_MS)
  if (existing !== undefined) return existing
  const cert = await createCertificate()
  replaceFileDurably(certPath(storeDir), JSON.stringify(cert, null, 2) + '\n', 0o600)
  return cert
}
