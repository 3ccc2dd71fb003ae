// Public surface of the wire layer: framing, preface and mesh message codecs (pure code, no sockets).
export * from './frame.ts';
export * from './preface.ts';
export * from './message.ts';
