import { describe, expect, it } from 'vitest'
import { resumeAddrs } from '../../src/web/resume-addrs.js'

// Where the browser phone dials to resume: the addresses the old phone served the page with, then those
// saved at pairing. (In Chromium, against an old phone started again on another port:
// test/browser/browser-phone.test.ts.)

const PEER = '12D3KooWL2FeJmpvksfnEWUPGzQqo87PTDUih38EEEk9o2xFZSsX'
const OTHER = '12D3KooWQ99pm2ScoARqKgKyRidk4hsA1wZ8YRsXMnntYEtjKsus'
const at = (port: number, peer = PEER): string => `/ip4/192.168.1.20/udp/${port}/webrtc-direct/certhash/uEiDICc5G9A7nQEFh5t-y_C8WXfrcHfdDOH_Qwz1aF_SXjw/p2p/${peer}`

describe('the addresses a resume dials', () => {
  it('puts where the old phone listens now before where it listened at pairing, each once', () => {
    expect(resumeAddrs(PEER, [at(4001)], [at(4002)])).toEqual([at(4002), at(4001)])
    expect(resumeAddrs(PEER, [at(4001), at(4003)], [at(4001)])).toEqual([at(4001), at(4003)])
  })

  it('dials only the saved ones when the page names another phone, no phone, or nothing that parses', () => {
    expect(resumeAddrs(PEER, [at(4001)], [at(4002, OTHER), '/ip4/192.168.1.20/udp/4004/webrtc-direct', 'not an address', ''])).toEqual([at(4001)])
    expect(resumeAddrs(PEER, [at(4001)], [])).toEqual([at(4001)])
  })
})
