import protobuf from 'protobufjs/minimal.js'

// Decode int64 fields as JS numbers, not Long objects: every 64-bit value in Ferry (timestamps, offsets,
// sizes) fits in 2^53, and the codec rejects the ones that don't. Must run before the generated code loads,
// which reads util.Long when it defines its defaults.
protobuf.util.Long = null as unknown as typeof protobuf.util.Long
protobuf.configure()

export { protobuf }
