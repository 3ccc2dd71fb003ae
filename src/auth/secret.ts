// Reading an HS256 shared secret from a file or the environment, the same way for spearlets and token minting.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.ts';

export const MIN_SECRET_BYTES = 16;

/**
 * A secret file holds raw bytes. When it is plain text (an `echo secret > file`), one trailing newline is dropped,
 * so the text and the file mean the same secret; binary files are used as they are.
 */
export function secretFromBytes(bytes: Uint8Array, option: string): Uint8Array {
  let out = bytes;
  const text = Buffer.from(bytes);
  const printable = text.every(
    (b, i) => (b >= 0x20 && b < 0x7f) || (b === 0x0a && i >= text.length - 2) || (b === 0x0d && i >= text.length - 2),
  );
  if (printable) {
    let end = text.length;
    if (text[end - 1] === 0x0a) end--;
    if (text[end - 1] === 0x0d) end--;
    out = new Uint8Array(text.subarray(0, end));
  }
  if (out.byteLength < MIN_SECRET_BYTES)
    throw new ConfigError(option, `the secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return out;
}

export async function readSecretFile(path: string, option: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new ConfigError(option, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return secretFromBytes(bytes, option);
}
