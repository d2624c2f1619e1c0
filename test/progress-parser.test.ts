import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../src/runner/line-splitter.js';
import { formatDuration, ProgressMetrics } from '../src/runner/progress-metrics.js';
import { parseStderrLine, parseStdoutLine, stderrLevel, storable } from '../src/runner/progress-parser.js';
import type { ProgressDraft } from '../src/model/run-event.js';

const now = new Date('2024-01-15T10:30:00.000Z');
const line = (text: string, truncated = false) => ({ text, truncated });

describe('parseStdoutLine', () => {
  it('keeps the known fields of a progress line, normalised', () => {
    const event = parseStdoutLine(
      line(
        JSON.stringify({
          event_type: 'progress' as const,
          stage: 'data_download',
          progress_percent: 145,
          current_item: 'AAPL',
          total_items: 500,
          completed_items: 227.9,
          message: 'Processing AAPL',
          metrics: { tickers_per_second: 2.3 },
          timestamp: '2024-01-15T10:29:59Z',
          run_id: 'spoofed',
          seq: 999,
        }),
      ),
      now,
    );
    expect(event).toEqual({
      event_type: 'progress' as const,
      timestamp: '2024-01-15T10:29:59.000Z',
      stage: 'data_download',
      progress_percent: 100,
      current_item: 'AAPL',
      total_items: 500,
      completed_items: 227,
      message: 'Processing AAPL',
      metrics: { tickers_per_second: 2.3 },
    });
  });

  it('adds the timestamp where missing or invalid, and drops fields of the wrong type', () => {
    expect(
      parseStdoutLine(line('{"event_type":"progress","progress_percent":"50","timestamp":"yesterday","metrics":[1]}'), now),
    ).toEqual({ event_type: 'progress', timestamp: now.toISOString() });
  });

  it('carries a result and a log level', () => {
    expect(parseStdoutLine(line('{"event_type":"result","data":{"a":[1,2]}}'), now)).toMatchObject({ event_type: 'result', data: { a: [1, 2] } });
    expect(parseStdoutLine(line('{"event_type":"log","level":"warning","message":"w"}'), now)).toMatchObject({ level: 'warning', message: 'w' });
    expect(parseStdoutLine(line('{"event_type":"log","level":"shouting","message":"w"}'), now)).toMatchObject({ level: 'info' });
  });

  it('turns anything else into an info log carrying the text', () => {
    for (const text of ['plain text', '[1,2]', '42', '{"event_type":"status","status":"completed"}', '{"no":"type"}', '{broken']) {
      expect(parseStdoutLine(line(text), now)).toEqual({ event_type: 'log', timestamp: now.toISOString(), level: 'info', message: text });
    }
  });

  it('makes no event of a blank line', () => {
    expect(parseStdoutLine(line('   '), now)).toBeUndefined();
    expect(parseStderrLine(line(''), now)).toBeUndefined();
  });

  it('flags truncated lines, and a truncated result as an error', () => {
    expect(parseStdoutLine(line('x'.repeat(5000), true), now)).toMatchObject({ event_type: 'log', level: 'warning' });
    expect(parseStdoutLine(line('{"event_type":"result","data":{"big":"', true), now)).toMatchObject({ event_type: 'error', level: 'error' });
  });

  it('makes a stderr line an error log unless it says otherwise', () => {
    expect(parseStderrLine(line('Traceback (most recent call last):'), now)).toEqual({
      event_type: 'log',
      timestamp: now.toISOString(),
      level: 'error',
      message: 'Traceback (most recent call last):',
    });
  });
});

describe('stderrLevel', () => {
  it('maps Python logging\'s default format to its level', () => {
    expect(stderrLevel('WARNING:root:disk almost full')).toBe('warning');
    expect(stderrLevel('INFO:my.module:loaded 500 tickers')).toBe('info');
    expect(stderrLevel('DEBUG:urllib3:connection opened')).toBe('debug');
    expect(stderrLevel('ERROR:root:bad row')).toBe('error');
    expect(stderrLevel('CRITICAL:root:giving up')).toBe('error');
  });

  it('maps a leading [level] tag, in any case, to its level', () => {
    expect(stderrLevel('[warning] no data for XYZ')).toBe('warning');
    expect(stderrLevel('[WARN] slow download')).toBe('warning');
    expect(stderrLevel('  [Info] started')).toBe('info');
    expect(stderrLevel('[debug] x=1')).toBe('debug');
    expect(stderrLevel('[fatal] out of memory')).toBe('error');
  });

  it('treats a Python warnings line as a warning, and its indented source line with it', () => {
    const first = stderrLevel('/home/me/s.py:3: DeprecationWarning: old API');
    expect(first).toBe('warning');
    expect(stderrLevel('  warnings.warn("old API", DeprecationWarning)', first)).toBe('warning');
  });

  it('keeps error for everything else, tracebacks included', () => {
    expect(stderrLevel('Traceback (most recent call last):')).toBe('error');
    expect(stderrLevel('  File "x.py", line 1, in <module>', 'error')).toBe('error');
    expect(stderrLevel('ZeroDivisionError: division by zero', 'warning')).toBe('error');
    expect(stderrLevel('warning: this has no tag')).toBe('error');
    expect(stderrLevel('WARNING without a colon')).toBe('error');
    expect(stderrLevel('   indented, with nothing before it')).toBe('error');
  });

  it('is what parseStderrLine puts on the event', () => {
    expect(parseStderrLine(line('WARNING:root:careful'), now)).toEqual({
      event_type: 'log',
      timestamp: now.toISOString(),
      level: 'warning',
      message: 'WARNING:root:careful',
    });
    expect(parseStderrLine(line('    continued'), now, 'info')).toMatchObject({ level: 'info' });
  });
});

describe('LineSplitter', () => {
  it('splits on newlines across chunks, CRLF included', () => {
    const splitter = new LineSplitter(1024);
    expect(splitter.push(Buffer.from('one\r\ntw'))).toEqual([line('one')]);
    expect(splitter.push(Buffer.from('o\nthree'))).toEqual([line('two')]);
    expect(splitter.end()).toEqual(line('three'));
    expect(splitter.end()).toBeUndefined();
  });

  it('caps a long line, drops the rest up to the newline, and goes on', () => {
    const splitter = new LineSplitter(10);
    expect(splitter.push(Buffer.from('0123456789abcdef'))).toEqual([]);
    expect(splitter.push(Buffer.from('ghij\nnext\n'))).toEqual([line('0123456789', true), line('next')]);
  });

  it('decodes UTF-8 split across chunks, replaces invalid bytes, removes NUL', () => {
    const splitter = new LineSplitter(1024);
    const euro = Buffer.from('€'); // 3 bytes
    expect(splitter.push(euro.subarray(0, 1))).toEqual([]);
    expect(splitter.push(Buffer.concat([euro.subarray(1), Buffer.from([0x0a])]))).toEqual([line('€')]);
    expect(splitter.push(Buffer.from([0x61, 0xff, 0x00, 0x62, 0x0a]))).toEqual([line('a\uFFFDb')]);
  });
});

describe('ProgressMetrics', () => {
  it('adds rate and ETA to progress with counts and no metrics of its own, per stage', () => {
    const metrics = new ProgressMetrics();
    const progress = (stage: string, completed: number, extra = {}): ProgressDraft => ({
      event_type: 'progress',
      timestamp: now.toISOString(),
      stage,
      completed_items: completed,
      total_items: 100,
      ...extra,
    });
    expect(metrics.enrich(progress('download', 0), 0)).not.toHaveProperty('metrics');
    expect(metrics.enrich(progress('download', 10), 5000).metrics).toEqual({ items_per_second: 2, estimated_remaining: '00:00:45' });
    expect(metrics.enrich(progress('download', 20, { metrics: { own: 1 } }), 6000).metrics).toEqual({ own: 1 });
    // A new stage starts its own clock.
    expect(metrics.enrich(progress('analysis', 0), 7000)).not.toHaveProperty('metrics');
    expect(metrics.enrich(progress('analysis', 50), 8000).metrics).toEqual({ items_per_second: 50, estimated_remaining: '00:00:01' });
  });

  it('formats durations as HH:MM:SS', () => {
    expect(formatDuration(332.4)).toBe('00:05:32');
    expect(formatDuration(3 * 3600 + 61)).toBe('03:01:01');
  });
});

describe('what PostgreSQL would refuse never reaches it', () => {
  it('drops \\u0000 escapes and lone surrogates from every string, keys included', () => {
    const event = parseStdoutLine(
      line('{"event_type":"result","data":{"a\\u0000b":["x\\u0000y","\\ud800z"]},"timestamp":"+275760-09-13T00:00:00Z"}'),
      now,
    );
    expect(event).toEqual({ event_type: 'result', timestamp: now.toISOString(), data: { ab: ['xy', '\uFFFDz'] } });
    expect(parseStdoutLine(line('{"event_type":"progress","message":"m\\u0000","stage":"s\\u0000"}'), now)).toMatchObject({
      message: 'm',
      stage: 's',
    });
  });

  it('cleans only what needs it: a clean value is kept as it is, a dirty one copied, its clean parts intact', () => {
    const clean = { a: ['x', 1, null, { b: 'é 😀' }], c: true };
    expect(storable(clean)).toBe(clean);
    const dirty = { keep: { b: 'ok' }, bad: ['\ud800', 'fine'] };
    const cleaned = storable(dirty);
    expect(cleaned).not.toBe(dirty);
    expect(cleaned).toEqual({ keep: { b: 'ok' }, bad: ['\uFFFD', 'fine'] });
    expect(dirty.bad[0]).toBe('\ud800');
  });
});

describe('timestamps', () => {
  it('stamps lines without one with the time they were read, to the millisecond', () => {
    const stamp = (date: Date) => parseStdoutLine(line('plain'), date)!.timestamp;
    const a = new Date('2024-01-15T10:30:00.123Z');
    expect(stamp(a)).toBe('2024-01-15T10:30:00.123Z');
    expect(stamp(new Date(a.getTime()))).toBe('2024-01-15T10:30:00.123Z');
    expect(stamp(new Date(a.getTime() + 1))).toBe('2024-01-15T10:30:00.124Z');
    expect(stamp(a)).toBe('2024-01-15T10:30:00.123Z');
    expect(parseStdoutLine(line('{"event_type":"progress","timestamp":"2024-01-15T12:00:00+02:00"}'), a)!.timestamp).toBe('2024-01-15T10:00:00.000Z');
  });
});
