// Typed errors with a searchable code and an HTTP status; the hub turns them into {"error":{code,message}}.

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 500 | 502 | 503 | 507;

export class TandemError extends Error {
  readonly code: string;
  readonly status: ErrorStatus;
  readonly details?: unknown;

  constructor(code: string, message: string, status: ErrorStatus = 400, details?: unknown) {
    super(message);
    this.name = 'TandemError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

export const badRequest = (code: string, message: string, details?: unknown) =>
  new TandemError(code, message, 400, details);
export const unauthorized = (code: string, message: string) => new TandemError(code, message, 401);
export const forbidden = (code: string, message: string) => new TandemError(code, message, 403);
export const notFound = (what: string, id: string) =>
  new TandemError('not_found', `${what} "${id}" does not exist. List them to see valid ids.`, 404);
export const conflict = (code: string, message: string, details?: unknown) =>
  new TandemError(code, message, 409, details);

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}
