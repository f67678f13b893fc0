import { ErrorCode, FerryError } from '../errors.js'

/** How big a simulated phone is. Counts are exact; media bytes are a target met within a fraction of a percent. */
export interface Profile {
  name: ProfileName
  contacts: number
  directChats: number
  groupChats: number
  /** Largest group, members including "me". */
  maxGroupMembers: number
  messages: number
  mediaBytes: number
  /**
   * When set, the first video gets exactly this many bytes and the other files share the rest: a phone
   * whose bytes are mostly one big file (the media-heavy benchmark), not thousands of photos.
   */
  largestVideoBytes?: number
  /** What it is for, shown by `ferry seed --help`. */
  purpose: string
}

export const PROFILE_NAMES = ['tiny', 'small', 'medium', 'large', 'media'] as const
export type ProfileName = typeof PROFILE_NAMES[number]

const MB = 1_000_000

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  tiny: { name: 'tiny', contacts: 8, directChats: 2, groupChats: 2, maxGroupMembers: 6, messages: 300, mediaBytes: 1.5 * MB, purpose: 'unit tests; seeds in well under a second' },
  small: { name: 'small', contacts: 60, directChats: 14, groupChats: 6, maxGroupMembers: 24, messages: 20_000, mediaBytes: 100 * MB, purpose: 'the demo and end-to-end tests' },
  medium: { name: 'medium', contacts: 200, directChats: 36, groupChats: 14, maxGroupMembers: 60, messages: 200_000, mediaBytes: 1000 * MB, purpose: 'a well-used phone; resume and soak tests' },
  large: { name: 'large', contacts: 600, directChats: 90, groupChats: 30, maxGroupMembers: 150, messages: 1_000_000, mediaBytes: 5000 * MB, purpose: 'benchmarks only' },
  // One 1 GiB video plus about 2,000 photos, voice notes and files, 1.69 GiB in all: the set the
  // performance targets were first measured on (croc, rsync over ssh, tar | socat).
  media: { name: 'media', contacts: 40, directChats: 10, groupChats: 4, maxGroupMembers: 16, messages: 14_000, mediaBytes: Math.round(1.69 * 2 ** 30), largestVideoBytes: 2 ** 30, purpose: 'the media-heavy benchmark: one 1 GiB video and ~2,000 smaller files' }
}

export function isProfileName (s: string): s is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(s)
}

export function getProfile (name: string): Profile {
  if (!isProfileName(name)) {
    throw new FerryError(ErrorCode.BAD_INPUT, `unknown profile '${name}' (expected ${PROFILE_NAMES.join(', ')})`)
  }
  return PROFILES[name]
}
