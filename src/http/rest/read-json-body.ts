import type http from 'node:http';
import { HttpError } from './http-errors.js';

/**
 * Reads a JSON request body. Every unreadable request answers 400 (CONTRACT §4 pins 400 for
 * bad JSON; a wrong content type is the same kind of mistake), an oversized one 413. Buffering
 * stops as soon as the body passes `maxBytes` (or at once when Content-Length says it will).
 */
export async function readJsonBody(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(type)) {
    throw new HttpError(400, 'BAD_REQUEST', `Send the body as JSON with "Content-Type: application/json" (got ${type ? `"${type}"` : 'none'}).`);
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(req, maxBytes);

  const body = await readLimited(req, maxBytes);
  const text = body.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'BAD_REQUEST', 'The request body is empty; send a JSON object.');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'BAD_REQUEST', `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The 413, and what happens to the rest of the body: it is discarded unread, so the client can
 * finish sending and read the answer (closing at once makes many clients see a reset instead),
 * but only up to a bound: past it the connection is cut.
 */
function tooLarge(req: http.IncomingMessage, maxBytes: number): HttpError {
  const discardLimit = DISCARD_FACTOR * maxBytes;
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > discardLimit) req.socket.destroy();
  });
  req.resume();
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes.`);
}

/** How much of an oversized body is read and thrown away before the connection is cut. */
const DISCARD_FACTOR = 16;

/**
 * Buffers at most `maxBytes`, then gives up (`tooLarge` deals with the rest; destroying the
 * request here would destroy the socket before the 413 could be sent).
 */
function readLimited(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      cleanup();
      reject(tooLarge(req, maxBytes));
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
