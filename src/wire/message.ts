// Mesh message codec facade (docs/protocol.md §3): vocabulary, encoders and the strict decoder.
export {
  MAX_DEADLINE_MS,
  MAX_ID,
  MAX_NAME_BYTES,
  MESSAGE_HEADER_BYTES,
  MESSAGE_KIND_NAMES,
  RESPONSE_PREFIX_BYTES,
  MessageKind,
  RequestFlag,
  Status,
  isMessageKind,
  statusForCode,
  type ControlKind,
  type ControlMessage,
  type JsonKind,
  type JsonMessage,
  type MeshMessage,
  type RequestMessage,
  type ResponseMessage,
  type SignalMessage,
} from './message-types.ts';
export {
  encodeControl,
  encodeErrorResponse,
  encodeJson,
  encodeRequest,
  encodeResponse,
  encodeSignal,
} from './message-encode.ts';
export { decodeMessage, messageKindName, parseJsonPayload } from './message-decode.ts';
