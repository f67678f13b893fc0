// The terminal and the page show sizes in one style: a person watching both sees the same figure.
import { describe, expect, it } from 'vitest'
import { formatBytes } from '../../src/format-bytes.js'

describe('sizes as people read them', () => {
  it('uses decimal units with a lower-case k, as disks and networks are sold', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(999)).toBe('999 B')
    expect(formatBytes(1_234)).toBe('1.2 kB')
    expect(formatBytes(16_100)).toBe('16.1 kB')
    expect(formatBytes(3_400_000)).toBe('3.4 MB')
    expect(formatBytes(1_690_000_000)).toBe('1.69 GB')
    expect(formatBytes(4_400_000_000_000)).toBe('4.40 TB')
  })
})
