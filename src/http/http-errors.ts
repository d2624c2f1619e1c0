import type { FastifyError } from 'fastify';
import { AppError, isAppError, type ErrorCode, type FieldProblem } from '../errors.js';

/**
 * How an error leaves over HTTP. Errors from the shared resolvers are `AppError`s and keep
 * their `code`; problems that only exist at the HTTP level (content type, body size, method,
 * URL) are recognised here, whether Fastify or a route raised them. Anything else is
 * unexpected: it is masked (never a stack trace) and logged as an error by the caller.
 */

/** HTTP status of each code. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_STREAMS: 429,
  RESOURCE_EXHAUSTED: 429,
  SHUTTING_DOWN: 503,
  SUBSCRIPTION_FAILED: 500,
  INTERNAL_SERVER_ERROR: 500,
};

/** An error only the HTTP layer knows, with the headers that go with it (e.g. `Allow`). */
export class HttpError extends AppError {
  override readonly name = 'HttpError';
  constructor(
    code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    details?: readonly FieldProblem[],
  ) {
    super(code, message, details);
  }
}

export interface ErrorReply {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: readonly FieldProblem[];
  readonly headers: Readonly<Record<string, string>>;
  /** False for a bug or an outage (log it as an error); true for a client's mistake. */
  readonly expected: boolean;
}

export const JSON_ONLY_MESSAGE = 'Send the body as JSON with "Content-Type: application/json".';

/** Classifies any error thrown while serving a request. */
export function toErrorReply(error: unknown, limits: { maxBodyBytes: number }): ErrorReply {
  const reply = (code: ErrorCode, message: string, details?: readonly FieldProblem[], headers = {}): ErrorReply => ({
    status: STATUS_BY_CODE[code],
    code,
    message,
    ...(details?.length ? { details } : {}),
    headers,
    expected: STATUS_BY_CODE[code] < 500,
  });
  if (error instanceof HttpError) return reply(error.code, error.message, error.details, error.headers);
  if (isAppError(error)) return reply(error.code, error.message, error.details);
  if (!isFastifyError(error)) return reply('INTERNAL_SERVER_ERROR', 'Something went wrong on our side; the error has been logged.');
  if (error.validation) return reply('BAD_USER_INPUT', validationMessage(error), validationDetails(error));
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return reply('BAD_REQUEST', 'The request body is not valid JSON (or uses a forbidden key such as "__proto__").');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return reply('BAD_REQUEST', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      // CONTRACT §5: a POST whose body is not JSON is refused (a web page can send forms and
      // text/plain to any site without a preflight).
      return reply('UNSUPPORTED_MEDIA_TYPE', JSON_ONLY_MESSAGE);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply('PAYLOAD_TOO_LARGE', `Request body over ${limits.maxBodyBytes} bytes`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return reply('BAD_REQUEST', 'Content-Length does not match the body.');
    default:
      // Fastify's other 4xx are about the request's form; its 5xx are ours.
      return error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
        ? { ...reply('BAD_REQUEST', error.message), status: error.statusCode }
        : reply('INTERNAL_SERVER_ERROR', 'Something went wrong on our side; the error has been logged.');
  }
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && 'code' in error && typeof error.code === 'string';
}

/** `strategy: is required` style, from the schema validator's issues. */
function validationDetails(error: FastifyError): FieldProblem[] {
  return (error.validation ?? []).map((issue) => {
    const path = issue.instancePath.split('/').slice(1).join('.');
    // A header is named as clients know it from the query twin (Last-Event-ID → last_event_id).
    const field = error.validationContext === 'headers' ? path.replaceAll('-', '_') : path;
    return { field, message: issue.message ?? 'is invalid' };
  });
}

function validationMessage(error: FastifyError): string {
  const where = error.validationContext === 'body' ? 'request body' : (error.validationContext ?? 'request');
  return `Invalid ${where}: ${validationDetails(error)
    .map((d) => (d.field ? `${d.field} ${d.message}` : d.message))
    .join('; ')}`;
}

/** `{"error": {"code", "message", "details"?}}`: the one error shape of the REST face. */
export function errorBody(reply: Pick<ErrorReply, 'code' | 'message' | 'details'>) {
  return { error: { code: reply.code, message: reply.message, ...(reply.details ? { details: [...reply.details] } : {}) } };
}
