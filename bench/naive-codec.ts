// Baseline for bench/codec.ts: the straightforward length-prefix codec built on Buffer.concat (same wire format).

export interface NaiveRequest {
  id: bigint;
  flags: number;
  deadlineMs: number;
  method: string;
  body: Buffer;
}

/** Encodes a REQUEST frame by concatenating freshly allocated parts. */
export function naiveEncodeRequest(
  id: bigint,
  flags: number,
  deadlineMs: number,
  method: string,
  body: Uint8Array,
): Buffer {
  const head = Buffer.alloc(16);
  head[0] = 3;
  head[1] = flags;
  head.writeBigUInt64LE(id, 2);
  head.writeUInt32LE(deadlineMs, 10);
  const name = Buffer.from(method, 'utf8');
  head.writeUInt16LE(name.length, 14);
  const message = Buffer.concat([head, name, body]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(message.length), 0);
  return Buffer.concat([length, message]);
}

/** Decodes a REQUEST body with plain Buffer reads. */
export function naiveDecodeRequest(body: Buffer): NaiveRequest {
  const nameLength = body.readUInt16LE(14);
  return {
    id: body.readBigUInt64LE(2),
    flags: body[1] ?? 0,
    deadlineMs: body.readUInt32LE(10),
    method: body.toString('utf8', 16, 16 + nameLength),
    body: body.subarray(16 + nameLength),
  };
}

/** Keeps everything unread in one buffer, concatenating each new chunk onto it. */
export class NaiveFrameDecoder {
  #buffered: Buffer = Buffer.alloc(0);
  readonly #onFrame: (body: Buffer) => void;

  constructor(onFrame: (body: Buffer) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    this.#buffered = Buffer.concat([this.#buffered, chunk]);
    while (this.#buffered.length >= 8) {
      const length = Number(this.#buffered.readBigUInt64LE(0));
      if (this.#buffered.length < 8 + length) break;
      this.#onFrame(this.#buffered.subarray(8, 8 + length));
      this.#buffered = this.#buffered.subarray(8 + length);
    }
  }
}
