// Framing facade: [u64 LE length][body] encoder, header helpers and the streaming decoder.
export {
  DEFAULT_MAX_FRAME_SIZE,
  FRAME_HEADER_BYTES,
  encodeCloseFrame,
  encodeFrame,
  readFrameLength,
  writeFrameHeader,
} from './frame-header.ts';
export { FrameDecoder, PREALLOCATE_MAX_BYTES, type FrameDecoderOptions, type FrameHandler } from './frame-decoder.ts';
