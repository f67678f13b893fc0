// Pairing: codes, QR payloads, CPace, the pairing and resume handshakes, the code's lifetime.
// Everything here is sans-I/O; net/ binds it to /ferry/pair/1.0.0 streams (one message per frame).
export { CodeLifetime, CODE_TTL_MS, MAX_FAILURES, type Attempt, type CodeLifetimeOptions, type CodeSnapshot, type CodeState } from './attempts.js'
export { codePrs, formatCode, generateCode, generateQrKey, parseCode, QR_KEY_BYTES, qrPrs, serviceTag, type PairingCode } from './code.js'
export {
  channelIdentifier, ReceiverHandshake, SenderHandshake, sessionId,
  type HandshakeOptions, type HandshakeState, type PairingResult, type SenderHandshakeOptions, type Step
} from './handshake.js'
export { MAX_MESSAGE_BYTES, PAIR_VERSION } from './messages.js'
export { buildQrPayload, parseQrPayload, qrDialAddrs, qrKeyFor, type QrPayload } from './qr-payload.js'
export { ResumeInitiator, ResumeResponder, type ResumeOptions, type ResumeStep } from './resume.js'
