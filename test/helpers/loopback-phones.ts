// Real phones (createFerry) on loopback TCP with their stores on disk, stopped after the test: the new
// phone that receives, and the old phone that offers a code with a small history to move.
import { expect } from 'vitest'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import type { PairingCode } from '../../src/pairing/index.js'
import { exportText, fillStore, tempDir } from './stores.js'
import type { Shown } from './swept-lan.js'

export const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

/** Messages in the old phone's one conversation: what a receive that paired with it moves. */
export const OLD_MESSAGES = 12

export interface OldPhone {
  phone: Ferry
  /** Its send, running (a rejection is kept from going unhandled; the test awaits it). */
  offered: Promise<unknown>
  /** As its discovery responder shows it. */
  shown: () => Shown
}

/** A phone in a fresh temporary folder named from `dirPrefix`, pushed onto `phones` (stoppedAfterEach). */
export async function loopbackPhone (phones: Ferry[], dirPrefix: string): Promise<Ferry> {
  const p = await createFerry(tempDir(dirPrefix), { listen: LOOPBACK, memory: false })
  phones.push(p)
  return p
}

/**
 * The old phone: OLD_MESSAGES messages in one conversation, offering `code`. `beforeOffer` runs once its
 * history is in and before it offers (to change how it answers a pairing).
 */
export async function offeringPhone (phones: Ferry[], dirPrefix: string, code: PairingCode, beforeOffer?: (phone: Ferry) => Promise<void>): Promise<OldPhone> {
  const phone = await loopbackPhone(phones, dirPrefix)
  await fillStore(phone.store, { conversations: 1, messagesPerConversation: OLD_MESSAGES, mediaSizes: [] })
  await beforeOffer?.(phone)
  const offered = phone.send({ code })
  offered.catch(() => {})
  return { phone, offered, shown: () => ({ peer: phone.node.peerId.toString(), addrs: phone.addresses().map(String) }) }
}

/** The receive paired with the old phone, which saw it through, and the new phone now holds its history. */
export async function expectMovedFrom (old: OldPhone, phone: Ferry, got: { progress: { messages: number } }): Promise<void> {
  expect(got.progress.messages).toBe(OLD_MESSAGES)
  await expect(old.offered).resolves.toBeDefined()
  expect(await exportText(phone.store)).toBe(await exportText(old.phone.store))
}
