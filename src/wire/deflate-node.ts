import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { ErrorCode, FerryError } from '../errors.js'
import type { BatchDeflate } from './codec.js'

/**
 * Message batches deflated with node:zlib. Level 1: text batches shrink about threefold, and higher
 * levels buy a tenth more for twice the CPU, on a sender that is busy reading and encoding already.
 */
export const nodeBatchDeflate: Required<BatchDeflate> = {
  deflate: frame => deflateRawSync(frame, { level: 1 }),
  inflate: async (data, maxBytes) => {
    try {
      return inflateRawSync(data, { maxOutputLength: maxBytes })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new FerryError(ErrorCode.FRAME_TOO_LARGE, `a deflated batch inflates past ${maxBytes} bytes`)
      }
      throw new FerryError(ErrorCode.MALFORMED_FRAME, `a deflated batch does not inflate: ${(err as Error).message}`, undefined, { cause: err })
    }
  }
}
