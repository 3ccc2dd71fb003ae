// Public surface of the wire layer: framing, preface, mesh messages and the legacy envelope (pure code, no sockets).
export * from './frame.ts';
export * from './preface.ts';
export * from './message.ts';
export * from './legacy/envelope.ts';
export { putU16le, putU32le, putU64le, u16le, u32le, u64le } from './bytes.ts';
