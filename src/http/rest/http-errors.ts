import type http from 'node:http';
import type { Logger } from '../../logger.js';
import { isAppError, type ErrorCode, type FieldProblem } from '../../errors.js';

/**
 * REST error answers, CONTRACT §4: `{"error": {"code", "message", "details"?}}`, never a stack.
 * Errors from the shared resolvers are `AppError`s and keep their `code`; problems that only
 * exist at the HTTP level (content type, body size, method) are `HttpError`s raised here.
 */

/** Codes of the REST face: the shared `ErrorCode`s plus the request-level ones. */
export type RestErrorCode = ErrorCode | 'BAD_REQUEST' | 'METHOD_NOT_ALLOWED';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: RestErrorCode,
    message: string,
    readonly details?: readonly FieldProblem[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** HTTP status for each shared error code. */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_MANY_STREAMS: 429,
  PAYLOAD_TOO_LARGE: 413,
  // CONTRACT §4 answers every unreadable request with 400 (see read-json-body.ts).
  UNSUPPORTED_MEDIA_TYPE: 400,
  SUBSCRIPTION_FAILED: 500,
  INTERNAL_SERVER_ERROR: 500,
};

export interface ErrorBody {
  error: { code: string; message: string; details?: readonly FieldProblem[] };
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Answers `error` in the pinned shape; anything unexpected is logged and masked as a 500. */
export function sendError(res: http.ServerResponse, error: unknown, log: Logger): void {
  let status: number;
  let body: ErrorBody;
  let headers: Readonly<Record<string, string>> = {};
  if (error instanceof HttpError) {
    status = error.status;
    body = errorBody(error.code, error.message, error.details);
    headers = error.headers;
  } else if (isAppError(error)) {
    status = STATUS_BY_CODE[error.code] ?? 500;
    body = errorBody(error.code, error.message, error.details);
  } else {
    log.error({ err: error }, 'REST request failed unexpectedly');
    status = 500;
    body = errorBody('INTERNAL_SERVER_ERROR', 'Something went wrong on our side; the error has been logged.');
  }
  // Headers already sent (e.g. a stream that failed half-way): all we can do is stop.
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, body, headers);
}

function errorBody(code: string, message: string, details?: readonly FieldProblem[]): ErrorBody {
  return { error: details?.length ? { code, message, details } : { code, message } };
}
