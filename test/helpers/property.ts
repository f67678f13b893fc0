import fc from 'fast-check'
import { randomInt } from 'node:crypto'

/**
 * fast-check with one seed per test file, printed, so that a failing property can be replayed:
 * `FERRY_FC_SEED=<seed> npx vitest run <file>`. Property tests import `fc` from here rather than from
 * fast-check (whose own seed comes from the clock and shows only when a property fails).
 */
const fromEnv = process.env.FERRY_FC_SEED?.trim()
export const SEED = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : randomInt(2 ** 31)
if (!Number.isSafeInteger(SEED)) throw new Error(`FERRY_FC_SEED wants an integer, not ${JSON.stringify(fromEnv)}`)
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: SEED })
console.error(`fast-check seed ${SEED} (replay this file with FERRY_FC_SEED=${SEED})`)

export { fc }
