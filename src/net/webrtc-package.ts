import { ErrorCode, FerryError } from '../errors.js'

// @libp2p/webrtc is an optional peer dependency of the package: it depends on react-native-webrtc, and
// with it on React Native, a couple of hundred packages that an app moving histories over TCP never
// loads. An app that asks for WebRTC installs it next to chat-ferry. (The CLI and the browser phone carry
// it in their bundles.)

export const WEBRTC_PACKAGE = '@libp2p/webrtc'
/** The versions package.json's peerDependencies accept (test/package checks they agree). */
export const WEBRTC_RANGE = '^6.0.33'

type WebRTCModule = typeof import('@libp2p/webrtc')

/** @libp2p/webrtc, or BAD_INPUT saying how to install it when the app has not. */
export async function loadWebRTC (): Promise<WebRTCModule> {
  try {
    return await import('@libp2p/webrtc')
  } catch (err) {
    if (!isMissing(err)) throw err
    throw new FerryError(ErrorCode.BAD_INPUT,
      `WebRTC needs the ${WEBRTC_PACKAGE} package, which is not installed: run \`npm install ${WEBRTC_PACKAGE}@${WEBRTC_RANGE}\` in the app's folder, or use the TCP transport`,
      { missing: WEBRTC_PACKAGE }, { cause: err })
  }
}

/** Whether `err` is the import failing because @libp2p/webrtc itself is not installed. */
function isMissing (err: unknown): boolean {
  const { code, message } = err as { code?: string, message?: string }
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(`'${WEBRTC_PACKAGE}'`)
}
