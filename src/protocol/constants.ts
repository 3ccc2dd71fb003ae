// Protocol constants both ends share: the version spoken in HELLO/WELCOME and the optional features offered.

/** The mesh protocol version carried in HELLO and WELCOME (docs/protocol.md). */
export const PROTOCOL_VERSION = 1;

/** Optional features each end announces: CANCEL frames, SIGNAL frames, in-place REAUTH. */
export const FEATURES: readonly string[] = Object.freeze(['cancel', 'signals', 'reauth']);
