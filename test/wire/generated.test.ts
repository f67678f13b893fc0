import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { generate, GENERATED } from '../../scripts/gen-proto.js'

describe('generated protobuf code', () => {
  it('matches proto/ferry.proto (run npm run proto:gen after editing it)', () => {
    const fresh = generate()
    expect(readFileSync(GENERATED.js, 'utf8')).toBe(fresh.js)
    expect(readFileSync(GENERATED.dts, 'utf8')).toBe(fresh.dts)
  })
})
