// Tokens for agents the runtime starts (SPEAR_TOKEN): subject `task:<taskId>`, pinned to the spearlet that started them.
import type { CryptoKey, JWK, KeyObject } from 'jose';
import { mintToken } from '../../auth/mint.ts';
import { taskSubject } from './mesh-task-channel.ts';

/** Task agents cannot refresh SPEAR_TOKEN (it is fixed at spawn), so their tokens live long. */
export const DEFAULT_TASK_TOKEN_TTL_SEC = 24 * 3600;

export interface TaskTokenMinterOptions {
  readonly spearletId: string;
  /** HS256 shared secret, or a private key: exactly one, the key the spearlet's verifier accepts. */
  readonly secret?: Uint8Array;
  readonly privateKey?: CryptoKey | KeyObject | JWK;
  readonly alg?: string;
  readonly kid?: string;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSec?: number;
}

/** A `mintTaskToken` for TaskRuntimeOptions. */
export function taskTokenMinter(o: TaskTokenMinterOptions): (taskId: string) => Promise<string> {
  return (taskId) =>
    mintToken({
      ...(o.secret !== undefined ? { secret: o.secret } : {}),
      ...(o.privateKey !== undefined ? { privateKey: o.privateKey } : {}),
      ...(o.alg !== undefined ? { alg: o.alg } : {}),
      ...(o.kid !== undefined ? { kid: o.kid } : {}),
      sub: taskSubject(taskId),
      iss: o.issuer,
      aud: o.audience,
      expiresInSec: o.ttlSec ?? DEFAULT_TASK_TOKEN_TTL_SEC,
      spearlets: [o.spearletId],
    });
}
