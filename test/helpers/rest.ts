import http from 'node:http';
import { assertDocumented } from './openapi-conformance.js';

/**
 * Small clients for the REST + SSE face, over real HTTP (fetch), for test/rest-*.test.ts.
 * Every answer is checked against the server's OpenAPI document on the way.
 */

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function api<T = any>(url: string, path: string, init: RequestInit & { json?: unknown } = {}): Promise<JsonResponse<T>> {
  const { json, ...rest } = init;
  const response = await fetch(`${url}${path}`, {
    ...rest,
    ...(json !== undefined ? { method: rest.method ?? 'POST', body: JSON.stringify(json) } : {}),
    headers: { ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...(rest.headers as Record<string, string>) },
  });
  const text = await response.text();
  const body = (text ? JSON.parse(text) : null) as T;
  await assertDocumented(response.url, rest.method ?? (json !== undefined ? 'POST' : 'GET'), {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body,
  });
  return { status: response.status, headers: response.headers, body };
}

export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export interface SseRead {
  status: number;
  headers: Headers;
  messages: SseMessage[];
  /** Comment lines, without the leading colon. */
  comments: string[];
  retry: number | undefined;
  /** Raw text received (for assertions on the exact framing). */
  raw: string;
  /** True when the server ended the stream (false when we stopped reading). */
  endedByServer: boolean;
}

export interface SseReadOptions {
  headers?: Record<string, string>;
  /** Stop reading (and drop the connection) once this returns true. */
  stopWhen?: (read: SseRead) => boolean;
}

/** Reads an SSE response with a plain parser (per the HTML spec's line rules), keeping comments. */
export async function readSse(url: string, options: SseReadOptions = {}): Promise<SseRead> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...options.headers }, signal: controller.signal });
  const read: SseRead = { status: response.status, headers: response.headers, messages: [], comments: [], retry: undefined, raw: '', endedByServer: false };
  if (response.status !== 200) {
    const text = await response.text();
    await assertDocumented(url, 'GET', { status: response.status, contentType: response.headers.get('content-type'), body: text ? JSON.parse(text) : null });
    read.raw = text;
    read.endedByServer = true;
    return read;
  }
  if (!response.body) return read;
  const decoder = new TextDecoder();
  let buffer = '';
  let current: { id?: string; event?: string; data: string[] } = { data: [] };
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        read.endedByServer = true;
        break;
      }
      const text = decoder.decode(value, { stream: true });
      read.raw += text;
      buffer += text;
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (current.data.length) read.messages.push({ id: current.id, event: current.event, data: current.data.join('\n') });
          current = { data: [] };
          continue;
        }
        if (line.startsWith(':')) {
          read.comments.push(line.slice(1));
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') current.data.push(value);
        else if (field === 'id') current.id = value;
        else if (field === 'event') current.event = value;
        else if (field === 'retry') read.retry = Number(value);
      }
      if (options.stopWhen?.(read)) break;
    }
  } finally {
    controller.abort();
    await reader.cancel().catch(() => {});
  }
  return read;
}

/** Parsed `data` of every message. */
export const eventsOf = (read: SseRead) => read.messages.map((m) => JSON.parse(m.data) as Record<string, unknown> & { seq: number });

/**
 * POSTs `chunks` × 64 KiB of spaces with chunked encoding (no Content-Length), as fast as the
 * server reads them, and returns the answer: how a body limit is tested when the size is unknown.
 */
export function postChunked(url: string, headers: Record<string, string>, chunks: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
    });
    // The server may answer and close before it has read everything we send.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < chunks) {
        sent += 1;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}
