/**
 * Typed errors shared by every layer. Each user-facing error carries a stable `code`
 * that both faces map to their own wire format (GraphQL `extensions.code`, REST status + body).
 * Anything that is not an `AppError` is unexpected and is masked before it reaches a client.
 */

export type ErrorCode =
  /** The request itself cannot be read (not JSON, wrong content type, bad URL). */
  | 'BAD_REQUEST'
  /** Readable, but the values are wrong; `details` names each field. */
  | 'BAD_USER_INPUT'
  /** No credentials, or ones that are not valid (unknown, revoked or expired). */
  | 'UNAUTHENTICATED'
  /** Valid credentials whose role does not allow this. */
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'TOO_MANY_STREAMS'
  /** A limit was reached (queued runs, request rate): nothing was done; retry later. */
  | 'RESOURCE_EXHAUSTED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  /** The server is draining after SIGTERM: it finishes what it has and takes nothing new. */
  | 'SHUTTING_DOWN'
  | 'SUBSCRIPTION_FAILED'
  | 'INTERNAL_SERVER_ERROR';

/** One field-level problem, e.g. `{ field: "parameters.rsi_max", message: "must be <= 100" }`. */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

export class AppError extends Error {
  override readonly name: string = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: readonly FieldProblem[],
  ) {
    super(message);
  }
}

export class BadUserInputError extends AppError {
  override readonly name = 'BadUserInputError';
  constructor(message: string, details?: readonly FieldProblem[]) {
    super('BAD_USER_INPUT', message, details);
  }
}

export class NotFoundError extends AppError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class ConflictError extends AppError {
  override readonly name = 'ConflictError';
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

export class UnauthenticatedError extends AppError {
  override readonly name = 'UnauthenticatedError';
  constructor(message = 'Send a valid token: "Authorization: Bearer TOKEN" (create one with `npm run token -- create`).') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends AppError {
  override readonly name = 'ForbiddenError';
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export class ResourceExhaustedError extends AppError {
  override readonly name = 'ResourceExhaustedError';
  constructor(message: string) {
    super('RESOURCE_EXHAUSTED', message);
  }
}

export class ShuttingDownError extends AppError {
  override readonly name = 'ShuttingDownError';
  constructor() {
    super('SHUTTING_DOWN', 'The server is shutting down and takes no new runs; retry on another instance or after it restarts.');
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
