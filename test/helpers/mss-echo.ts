// Telling multistream-select's echo of a protocol from the other bytes a stream sends, so a test can
// make a real libp2p node that never agrees a protocol it otherwise takes.

/** Whether `bytes` are multistream-select's echo of `protocol` (length-prefixed, newline-ended). */
export const echoes = (bytes: Uint8Array, protocol: string): boolean =>
  bytes.byteLength <= protocol.length + 2 && new TextDecoder().decode(bytes).endsWith(`${protocol}\n`)
