import type http from 'node:http';
import { HttpError } from './http-errors.js';

/**
 * Reads a JSON request body. Every unreadable request answers 400 (CONTRACT §4 pins 400 for
 * bad JSON; a wrong content type is the same kind of mistake), an oversized one 413. Reading
 * stops as soon as the body passes `maxBytes`: nothing beyond it is buffered.
 */
export async function readJsonBody(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(type)) {
    throw new HttpError(400, 'BAD_REQUEST', `Send the body as JSON with "Content-Type: application/json" (got ${type ? `"${type}"` : 'none'}).`);
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);

  const body = await readLimited(req, maxBytes);
  const text = body.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'BAD_REQUEST', 'The request body is empty; send a JSON object.');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'BAD_REQUEST', `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(maxBytes: number): HttpError {
  // The rest of the body is never buffered; closing the connection after the answer ends it.
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes.`, undefined, {
    connection: 'close',
  });
}

/**
 * Buffers at most `maxBytes`. Past that it stops buffering and lets the rest drain unread
 * (destroying the request would destroy the socket before the 413 could be sent).
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
      req.resume();
      reject(tooLarge(maxBytes));
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
