// The one way a handler says "answer with this status and this plain-text body": Consul's HTTPError.
// It never leaves the dev registry: the HTTP layer turns it into a response.

export class HttpError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);
/** Consul answers most state-store and RPC errors with a 500 and the error text. */
export const serverError = (message: string): HttpError => new HttpError(500, message);
