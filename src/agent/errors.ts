// Errors MeshClient raises itself (codes in docs/errors.md); connection errors come from src/conn/errors.ts.
import { MeshError } from '../errors.ts';

export class NoSpearletAvailableError extends MeshError {
  readonly waitedMs: number;
  constructor(method: string, waitedMs: number, endpoints: number) {
    super(
      'NO_SPEARLET_AVAILABLE',
      `no spearlet could take request '${method}' within ${waitedMs} ms (${endpoints} known endpoint(s), none usable)`,
      { retryable: true },
    );
    this.waitedMs = waitedMs;
  }
}

export class QueueFullError extends MeshError {
  readonly maxSize: number;
  constructor(method: string, maxSize: number) {
    super('QUEUE_FULL', `request '${method}' refused: ${maxSize} requests already wait for a spearlet`, {
      retryable: true,
    });
    this.maxSize = maxSize;
  }
}

export class ClientClosedError extends MeshError {
  constructor(what = 'the MeshClient is closed') {
    super('CLIENT_CLOSED', what);
  }
}

export class RetryBudgetExhaustedError extends MeshError {
  constructor(method: string, cause: unknown) {
    super('RETRY_BUDGET_EXHAUSTED', `request '${method}' needed a retry but the retry budget is spent`, { cause });
  }
}
