// Bit i lives in byte i >> 3 at position i & 7 (LSB first); bits past the end of the array read as 0.
export function getBit (bits: Uint8Array, i: number): boolean {
  const byte = i >> 3
  return byte < bits.byteLength && (bits[byte] & (1 << (i & 7))) !== 0
}

export function setBit (bits: Uint8Array, i: number): void {
  bits[i >> 3] |= 1 << (i & 7)
}

export function bitmapBytes (n: number): number {
  return (n + 7) >> 3
}
