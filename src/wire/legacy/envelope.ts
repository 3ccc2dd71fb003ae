// Legacy (Go SPEAR) envelope codec: TransportMessageRaw frames and the Custom request/response payloads.
import * as flatbuffers from 'flatbuffers';
import { LegacyEnvelopeInvalidError } from '../../errors.ts';
import { encodeFrame } from '../frame-header.ts';
import { CustomRequest, CustomResponse, NormalRequestInfo, RequestInfo } from './generated/custom_generated.ts';
import {
  TransportMessageRaw,
  TransportMessageRaw_Data,
  TransportRequest,
  TransportResponse,
  TransportSignal,
} from './generated/transport_generated.ts';
import { FlatVerifier } from './verify.ts';

export const LegacyMethod = {
  Unknown: 0,
  Transform: 1,
  Input: 2,
  Speak: 3,
  Record: 4,
  ToolInvoke: 5,
  InternalToolCreate: 6,
  VecStoreCreate: 7,
  VecStoreInsert: 8,
  VecStoreQuery: 9,
  VecStoreDelete: 10,
  Custom: 11,
  StreamCtrl: 12,
} as const;
export type LegacyMethod = (typeof LegacyMethod)[keyof typeof LegacyMethod];

export const LegacySignal = { Terminate: 1, StreamData: 2 } as const;
export type LegacySignal = (typeof LegacySignal)[keyof typeof LegacySignal];

/** The response code and message for a request whose method the spearlet does not handle. */
export const LEGACY_METHOD_NOT_FOUND_CODE = 2;
export const LEGACY_METHOD_NOT_FOUND_MESSAGE = 'method not found';
/** TransportRequest.id and TransportResponse.id default (field absent). */
export const LEGACY_DEFAULT_ID = -1n;

/** Byte fields are views into the decoded frame body (no copy): copy them to keep them past the body's life. */
export type LegacyMessage =
  | { readonly type: 'request'; readonly id: bigint; readonly method: number; readonly request: Buffer }
  | {
      readonly type: 'response';
      readonly id: bigint;
      readonly code: number;
      readonly message: string;
      readonly response: Buffer;
    }
  | { readonly type: 'signal'; readonly method: number; readonly payload: Buffer };

export interface CustomRequestFields {
  readonly methodStr: string;
  /** '' when the request carries no NormalRequestInfo. */
  readonly paramsStr: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EMPTY = Buffer.alloc(0);
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

// ---- decoding ----------------------------------------------------------------------------------------------------

function byteBufferOf(bytes: Buffer): flatbuffers.ByteBuffer {
  return new flatbuffers.ByteBuffer(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
}

function viewOf(array: Uint8Array | null): Buffer {
  if (array === null) return EMPTY;
  return Buffer.from(array.buffer, array.byteOffset, array.length);
}

function decodeString(raw: string | Uint8Array | null, what: string): string {
  if (raw === null) return '';
  if (typeof raw === 'string') return raw;
  try {
    return utf8.decode(raw);
  } catch (err) {
    throw new LegacyEnvelopeInvalidError(`${what} is not valid UTF-8`, err);
  }
}

/** Wraps anything the FlatBuffers runtime might still throw into the codec's typed error. */
function guarded<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof LegacyEnvelopeInvalidError) throw err;
    throw new LegacyEnvelopeInvalidError(`invalid ${what}`, err);
  }
}

/**
 * Decodes a legacy frame body (a TransportMessageRaw). The structure is bounds-checked before any field is read;
 * garbage, an unknown union tag or invalid UTF-8 give LegacyEnvelopeInvalidError.
 */
export function decodeLegacyMessage(body: Buffer): LegacyMessage {
  return guarded('legacy envelope', () => {
    const v = new FlatVerifier(body, 'legacy envelope');
    const root = v.root();
    const typePos = v.field(root, 0, 'u8', 'data_type');
    const dataPos = v.field(root, 1, 'table', 'data');
    const tag = typePos === 0 ? 0 : (body[typePos] as number);
    if (dataPos === 0) throw new LegacyEnvelopeInvalidError(`legacy envelope without data (union tag ${tag})`);
    const table = v.subtable(dataPos, 'data');
    const bb = byteBufferOf(body);
    const raw = TransportMessageRaw.getRootAsTransportMessageRaw(bb);
    switch (tag) {
      case 1: {
        v.check(table, 0, 'i64', 'TransportRequest.id');
        v.check(table, 1, 'u32', 'TransportRequest.method');
        v.check(table, 2, 'bytes', 'TransportRequest.request');
        const m = raw.data(new TransportRequest()) as TransportRequest;
        return { type: 'request', id: m.id(), method: m.method(), request: viewOf(m.requestArray()) };
      }
      case 2: {
        v.check(table, 0, 'i64', 'TransportResponse.id');
        v.check(table, 1, 'i32', 'TransportResponse.code');
        v.check(table, 2, 'string', 'TransportResponse.message');
        v.check(table, 3, 'bytes', 'TransportResponse.response');
        const m = raw.data(new TransportResponse()) as TransportResponse;
        return {
          type: 'response',
          id: m.id(),
          code: m.code(),
          message: decodeString(m.message(flatbuffers.Encoding.UTF8_BYTES), 'TransportResponse.message'),
          response: viewOf(m.responseArray()),
        };
      }
      case 3: {
        v.check(table, 0, 'u32', 'TransportSignal.method');
        v.check(table, 1, 'bytes', 'TransportSignal.payload');
        const m = raw.data(new TransportSignal()) as TransportSignal;
        return { type: 'signal', method: m.method(), payload: viewOf(m.payloadArray()) };
      }
      default:
        throw new LegacyEnvelopeInvalidError(`unknown legacy envelope union tag ${tag}`);
    }
  });
}

/** Decodes the CustomRequest carried in TransportRequest.request of a Custom (11) request. */
export function decodeCustomRequest(bytes: Uint8Array): CustomRequestFields {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return guarded('CustomRequest', () => {
    const v = new FlatVerifier(buf, 'CustomRequest');
    const root = v.root();
    v.check(root, 0, 'string', 'method_str');
    const typePos = v.field(root, 1, 'u8', 'request_info_type');
    const infoPos = v.field(root, 2, 'table', 'request_info');
    const tag = typePos === 0 ? 0 : (buf[typePos] as number);
    const request = CustomRequest.getRootAsCustomRequest(byteBufferOf(buf));
    const methodStr = decodeString(request.methodStr(flatbuffers.Encoding.UTF8_BYTES), 'method_str');
    if (tag === 0 || infoPos === 0) return { methodStr, paramsStr: '' };
    if (tag !== 1) throw new LegacyEnvelopeInvalidError(`unknown RequestInfo union tag ${tag}`);
    const info = v.subtable(infoPos, 'request_info');
    v.check(info, 0, 'string', 'params_str');
    const normal = request.requestInfo(new NormalRequestInfo()) as NormalRequestInfo;
    return { methodStr, paramsStr: decodeString(normal.paramsStr(flatbuffers.Encoding.UTF8_BYTES), 'params_str') };
  });
}

/** Decodes a CustomResponse and returns its data (a view into `bytes`; empty when absent). */
export function decodeCustomResponse(bytes: Uint8Array): Buffer {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return guarded('CustomResponse', () => {
    const v = new FlatVerifier(buf, 'CustomResponse');
    v.check(v.root(), 0, 'bytes', 'data');
    return viewOf(CustomResponse.getRootAsCustomResponse(byteBufferOf(buf)).dataArray());
  });
}

// ---- encoding ----------------------------------------------------------------------------------------------------

function checkInt64(id: bigint): void {
  if (typeof id !== 'bigint' || id < INT64_MIN || id > INT64_MAX)
    throw new TypeError('legacy id must be an int64 bigint');
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new TypeError(`${what} must be a u32`);
}

function newBuilder(payloadBytes: number): flatbuffers.Builder {
  return new flatbuffers.Builder(64 + payloadBytes);
}

function finishEnvelope(builder: flatbuffers.Builder, tag: TransportMessageRaw_Data, data: flatbuffers.Offset): Buffer {
  const root = TransportMessageRaw.createTransportMessageRaw(builder, tag, data);
  builder.finish(root);
  return encodeFrame(builder.asUint8Array());
}

/** A complete frame carrying TransportRequest{id, method, request}. */
export function encodeLegacyRequest(id: bigint, method: number, request: Uint8Array): Buffer {
  checkInt64(id);
  checkU32(method, 'legacy method');
  const builder = newBuilder(request.byteLength);
  const vector = builder.createByteVector(request);
  const data = TransportRequest.createTransportRequest(builder, id, method, vector);
  return finishEnvelope(builder, TransportMessageRaw_Data.TransportRequest, data);
}

/** A complete frame carrying TransportResponse{id, code, message, response}. */
export function encodeLegacyResponse(id: bigint, code: number, message: string, response: Uint8Array): Buffer {
  checkInt64(id);
  if (!Number.isInteger(code) || code < -0x8000_0000 || code > 0x7fff_ffff) {
    throw new TypeError('legacy response code must be an int32');
  }
  const builder = newBuilder(response.byteLength + message.length * 3);
  const text = builder.createString(message);
  const vector = builder.createByteVector(response);
  const data = TransportResponse.createTransportResponse(builder, id, code, text, vector);
  return finishEnvelope(builder, TransportMessageRaw_Data.TransportResponse, data);
}

/** A complete frame carrying TransportSignal{method, payload}. */
export function encodeLegacySignal(method: number, payload: Uint8Array = EMPTY): Buffer {
  checkU32(method, 'legacy signal');
  const builder = newBuilder(payload.byteLength);
  const vector = builder.createByteVector(payload);
  const data = TransportSignal.createTransportSignal(builder, method, vector);
  return finishEnvelope(builder, TransportMessageRaw_Data.TransportSignal, data);
}

/** CustomRequest{method_str, request_info: NormalRequestInfo{params_str}} bytes, for TransportRequest.request. */
export function encodeCustomRequest(methodStr: string, paramsStr: string): Uint8Array {
  const builder = newBuilder((methodStr.length + paramsStr.length) * 3);
  const params = builder.createString(paramsStr);
  const info = NormalRequestInfo.createNormalRequestInfo(builder, params);
  const method = builder.createString(methodStr);
  builder.finish(CustomRequest.createCustomRequest(builder, method, RequestInfo.NormalRequestInfo, info));
  return builder.asUint8Array();
}

/** CustomResponse{data} bytes, for TransportResponse.response. */
export function encodeCustomResponse(data: Uint8Array): Uint8Array {
  const builder = newBuilder(data.byteLength);
  const vector = builder.createByteVector(data);
  builder.finish(CustomResponse.createCustomResponse(builder, vector));
  return builder.asUint8Array();
}

/** A complete frame invoking a legacy agent: TransportRequest{id, Custom, CustomRequest{methodStr, paramsStr}}. */
export function encodeLegacyInvoke(id: bigint, methodStr: string, paramsStr: string): Buffer {
  return encodeLegacyRequest(id, LegacyMethod.Custom, encodeCustomRequest(methodStr, paramsStr));
}

/** The answer to an agent request for a method the spearlet does not handle: code 2, "method not found". */
export function encodeLegacyMethodNotFound(id: bigint): Buffer {
  return encodeLegacyResponse(id, LEGACY_METHOD_NOT_FOUND_CODE, LEGACY_METHOD_NOT_FOUND_MESSAGE, EMPTY);
}
