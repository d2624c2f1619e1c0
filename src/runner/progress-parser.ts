import type { EventDraft } from '../db/run-events.js';
import type { Line } from './line-splitter.js';

/**
 * Turns one line a strategy wrote into an event (CONTRACT §2). Pure: no I/O, no clock of its
 * own. A JSON object with a known `event_type` becomes that event with its fields checked and
 * normalised; anything else becomes a `log` event carrying the text, so nothing is lost.
 * Blank lines carry nothing and become no event.
 */

const SCRIPT_EVENT_TYPES = new Set(['progress', 'log', 'result', 'error']);
const LOG_LEVELS = new Set(['debug', 'info', 'warning', 'error']);

export function parseStdoutLine(line: Line, now: Date): EventDraft | undefined {
  const text = line.text;
  if (text.trim() === '') return undefined;
  if (line.truncated) {
    const isResult = /^\s*\{\s*"event_type"\s*:\s*"result"/.test(text);
    return {
      event_type: isResult ? 'error' : 'log',
      timestamp: now.toISOString(),
      level: isResult ? 'error' : 'warning',
      message: isResult
        ? `result line exceeded the size limit (${text.length} characters kept); the result was dropped`
        : `${text.slice(0, 2000)}… [line truncated: longer than the size limit]`,
    };
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      value = undefined;
    }
    if (isPlainObject(value) && typeof value.event_type === 'string' && SCRIPT_EVENT_TYPES.has(value.event_type)) {
      return normaliseEvent(value, now);
    }
  }
  return logEvent(text, 'info', now);
}

export function parseStderrLine(line: Line, now: Date): EventDraft | undefined {
  if (line.text.trim() === '') return undefined;
  return logEvent(line.truncated ? `${line.text.slice(0, 2000)}… [line truncated]` : line.text, 'error', now);
}

function logEvent(message: string, level: string, now: Date): EventDraft {
  return { event_type: 'log', timestamp: now.toISOString(), level, message };
}

function normaliseEvent(raw: Record<string, unknown>, now: Date): EventDraft {
  const type = raw.event_type as string;
  const event: Record<string, unknown> = { event_type: type, timestamp: timestampOf(raw.timestamp, now) };
  const text = (key: string) => {
    if (typeof raw[key] === 'string') event[key] = storable(raw[key]);
    else if (typeof raw[key] === 'number' || typeof raw[key] === 'boolean') event[key] = String(raw[key]);
  };
  const count = (key: string) => {
    const n = raw[key];
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) event[key] = Math.floor(n);
  };
  text('stage');
  text('message');
  text('current_item');
  count('total_items');
  count('completed_items');
  if (typeof raw.progress_percent === 'number' && Number.isFinite(raw.progress_percent)) {
    event.progress_percent = Math.min(100, Math.max(0, raw.progress_percent));
  }
  if (isPlainObject(raw.metrics)) event.metrics = storable(raw.metrics);
  if (type === 'log' || type === 'error') {
    event.level = typeof raw.level === 'string' && LOG_LEVELS.has(raw.level) ? raw.level : type === 'error' ? 'error' : 'info';
  }
  if (type === 'result') event.data = storable(raw.data ?? null);
  if (type === 'error' && 'data' in raw) event.data = storable(raw.data);
  return event as EventDraft;
}

/** The script's own timestamp when it is one PostgreSQL can store (years 1–9999), else now. */
function timestampOf(value: unknown, now: Date): string {
  if (typeof value === 'string') {
    const parsed = new Date(value);
    const year = parsed.getUTCFullYear();
    if (!Number.isNaN(parsed.getTime()) && year >= 1 && year <= 9999) return parsed.toISOString();
  }
  return now.toISOString();
}

/**
 * A copy PostgreSQL accepts: a JSON `\u0000` escape or a lone surrogate parses fine in
 * JavaScript but makes text and jsonb columns reject the whole batch.
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') {
    const cleaned = value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
    return cleaned.toWellFormed() as T;
  }
  if (Array.isArray(value)) return value.map(storable) as T;
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)])) as T;
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
