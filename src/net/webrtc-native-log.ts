import { logger } from '@libp2p/logger'

// node-datachannel's native libraries log by themselves, not through JavaScript. libjuice (the ICE
// agent that binds webrtc-direct's UDP port) prints its warnings and errors straight to stdout until
// libdatachannel makes its first ICE transport, which points libjuice at libdatachannel's own logger:
// a UDP port it cannot bind put WARN, ERROR and FATAL lines on stdout, in the middle of `--json` output,
// beside Ferry's own error saying the same in words. node-datachannel's initLogger alone does not reach
// libjuice before that first transport, so one is made here, on loopback, and closed at once.

const log = logger('ferry:webrtc:native')

let routed: Promise<void> | undefined

/**
 * Routes the native WebRTC libraries' logging before any webrtc-direct listener or connection: with
 * `ferry:webrtc:native` enabled (DEBUG=ferry:*), their lines go there; otherwise nowhere, as Ferry says
 * what went wrong itself. Once per process: the native loggers are the process's, not a node's.
 */
export async function routeNativeWebRTCLogs (): Promise<void> {
  // Only where the native lines go: should the throwaway connection fail, WebRTC goes on without it.
  routed ??= route().catch(err => { log.error('could not route the native WebRTC logs: %s', (err as Error)?.message ?? String(err)) })
  await routed
}

async function route (): Promise<void> {
  const { default: ndc } = await import('node-datachannel')
  if (log.enabled) {
    // The callback holds the event loop open for as long as the process runs (node-datachannel keeps it
    // referenced): a price only a person reading these lines pays.
    ndc.initLogger('Debug', (level, message) => { log('%s %s', level, message) })
  }
  // Made with no logger set up, the first ICE transport sets libjuice's level to none; with one, to its
  // level, and libjuice's lines then go through it.
  const pc = new ndc.PeerConnection('ferry-native-log', { iceServers: [], bindAddress: '127.0.0.1' })
  // node-datachannel lets go of a connection and a channel (and the event loop) once their close reaches
  // a callback; without one, only once they are garbage collected: an app's process would end late.
  pc.onStateChange(() => {})
  try {
    // A data channel starts negotiating, and so makes the ICE transport; without one there is nothing
    // to negotiate and libdatachannel aborts the process.
    const channel = pc.createDataChannel('ferry-native-log')
    channel.onClosed(() => {})
    channel.close()
  } finally {
    pc.close()
  }
}
