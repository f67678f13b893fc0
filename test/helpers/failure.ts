import { expect } from 'vitest'
import { isFerryError, type FerryError } from '../../src/errors.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'

/** The FerryError `p` rejects with; fails the test if it resolves or rejects with anything else. */
export async function failure (p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(isFerryError(err), String(err)).toBe(true)
  return err as FerryError
}

/** The errors a transfer's `interrupted` events told the app of, in order. */
export const interruptions = (events: FerryEvent[]): FerryError[] =>
  events.flatMap(e => e.type === 'interrupted' ? [e.error] : [])
