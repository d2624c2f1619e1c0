import { LOG_LEVELS, type EventDraft, type EventType, type LogDraft, type LogLevel, type ProgressFields } from '../model/run-event.js';
import type { Line } from './line-splitter.js';

/**
 * Turns one line a strategy wrote into an event (CONTRACT §2). Pure: no I/O, no clock of its
 * own. A JSON object with a known `event_type` becomes that event with its fields checked and
 * normalised; anything else becomes a `log` event carrying the text, so nothing is lost.
 * Blank lines carry nothing and become no event.
 */

type ScriptEventType = Exclude<EventType, 'status'>;
const SCRIPT_EVENT_TYPES: ReadonlySet<string> = new Set<ScriptEventType>(['progress', 'log', 'result', 'error']);
const isScriptEventType = (value: unknown): value is ScriptEventType => typeof value === 'string' && SCRIPT_EVENT_TYPES.has(value);
const isLogLevel = (value: unknown): value is LogLevel => typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);

export function parseStdoutLine(line: Line, now: Date): EventDraft | undefined {
  const text = line.text;
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (line.truncated) {
    const timestamp = isoString(now);
    return /^\s*\{\s*"event_type"\s*:\s*"result"/.test(text)
      ? {
          event_type: 'error',
          timestamp,
          level: 'error',
          message: `result line exceeded the size limit (${text.length} characters kept); the result was dropped`,
        }
      : { event_type: 'log', timestamp, level: 'warning', message: `${text.slice(0, 2000)}… [line truncated: longer than the size limit]` };
  }
  if (trimmed.charCodeAt(0) === 0x7b /* { */) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      value = undefined;
    }
    if (isPlainObject(value) && isScriptEventType(value.event_type)) return normaliseEvent(value.event_type, value, now);
  }
  return logEvent(text, 'info', now);
}

/** `previousLevel`: the level of the stderr line before it (see `stderrLevel`). */
export function parseStderrLine(line: Line, now: Date, previousLevel?: LogLevel): LogDraft | undefined {
  if (line.text.trim() === '') return undefined;
  const level = stderrLevel(line.text, previousLevel);
  return logEvent(line.truncated ? `${line.text.slice(0, 2000)}… [line truncated]` : line.text, level, now);
}

const TAGGED_LEVEL = /^\s*\[(debug|info|warn|warning|error|critical|fatal)\]/i;
// Python `logging`'s default format (basicConfig): `LEVEL:logger:message`.
const PYTHON_LOGGING_LEVEL = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL):/;
// Python `warnings`: `path/to/file.py:12: DeprecationWarning: message`.
const PYTHON_WARNING = /^\S.*:\d+: [A-Za-z]*Warning: /;

/**
 * The level a stderr line carries. Everything on stderr is an error unless it says otherwise:
 * a leading `[warning]`-style tag, Python `logging`'s default `WARNING:…` prefix, or a Python
 * `…: SomethingWarning:` line. An indented line continues the line before it (the source
 * line `warnings` prints, a traceback frame), so it keeps `previousLevel` when there is one.
 */
export function stderrLevel(text: string, previousLevel?: LogLevel): LogLevel {
  const tagged = TAGGED_LEVEL.exec(text) ?? PYTHON_LOGGING_LEVEL.exec(text);
  if (tagged) return levelNamed(tagged[1]!);
  if (PYTHON_WARNING.test(text)) return 'warning';
  if (previousLevel && /^\s/.test(text)) return previousLevel;
  return 'error';
}

function levelNamed(name: string): LogLevel {
  const lower = name.toLowerCase();
  if (lower === 'warn') return 'warning';
  if (lower === 'critical' || lower === 'fatal') return 'error';
  return lower as LogLevel;
}

function logEvent(message: string, level: LogLevel, now: Date): LogDraft {
  return { event_type: 'log', timestamp: isoString(now), level, message };
}

function normaliseEvent(type: ScriptEventType, raw: Record<string, unknown>, now: Date): EventDraft {
  const timestamp = timestampOf(raw.timestamp, now);
  const fields = progressFields(raw);
  switch (type) {
    case 'progress':
      return { event_type: type, timestamp, ...fields };
    case 'log':
      return { event_type: type, timestamp, ...fields, level: isLogLevel(raw.level) ? raw.level : 'info' };
    case 'error':
      return {
        event_type: type,
        timestamp,
        ...fields,
        level: isLogLevel(raw.level) ? raw.level : 'error',
        ...('data' in raw ? { data: storable(raw.data) } : {}),
      };
    case 'result':
      return { event_type: type, timestamp, ...fields, data: storable(raw.data ?? null) };
  }
}

/**
 * The progress fields a script may put on any event, checked and normalised; the rest is dropped.
 * Every key is always there (absent ones `undefined`, which JSON leaves out): events then share
 * one object shape, which keeps the code that copies and reads them on its fast path.
 */
function progressFields(raw: Record<string, unknown>): ProgressFields {
  const percent = raw.progress_percent;
  return {
    stage: text(raw.stage),
    message: text(raw.message),
    current_item: text(raw.current_item),
    total_items: count(raw.total_items),
    completed_items: count(raw.completed_items),
    progress_percent: typeof percent === 'number' && Number.isFinite(percent) ? Math.min(100, Math.max(0, percent)) : undefined,
    metrics: isPlainObject(raw.metrics) ? storable(raw.metrics) : undefined,
  };
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return storable(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
}

/** The script's own timestamp when it is one PostgreSQL can store (years 1–9999), else now. */
function timestampOf(value: unknown, now: Date): string {
  if (typeof value === 'string') {
    const parsed = new Date(value);
    const year = parsed.getUTCFullYear();
    if (!Number.isNaN(parsed.getTime()) && year >= 1 && year <= 9999) return parsed.toISOString();
  }
  return isoString(now);
}

let lastIsoMs = Number.NaN;
let lastIso = '';

/** `date.toISOString()`, computed once per millisecond: a flood reads many lines in each. */
function isoString(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastIsoMs) {
    lastIso = date.toISOString();
    lastIsoMs = ms;
  }
  return lastIso;
}

/**
 * A value PostgreSQL accepts: a JSON `\u0000` escape or a lone surrogate parses fine in
 * JavaScript but makes text and jsonb columns reject the whole batch. The value itself when it
 * is already clean (the usual case), else a cleaned copy.
 */
export function storable<T>(value: T): T {
  return isStorable(value) ? value : cleaned(value);
}

function isStorable(value: unknown): boolean {
  if (typeof value === 'string') return !value.includes('\u0000') && value.isWellFormed();
  if (Array.isArray(value)) return value.every(isStorable);
  if (isPlainObject(value)) {
    for (const key in value) if (!isStorable(key) || !isStorable(value[key])) return false;
  }
  return true;
}

function cleaned<T>(value: T): T {
  if (typeof value === 'string') {
    const withoutNul = value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
    return withoutNul.toWellFormed() as T;
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
