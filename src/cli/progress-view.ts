import type { WatchedEvent } from './follow-run.js';

/**
 * How a followed run is shown. On a terminal: one live bar (stage, %, current item, done of
 * total, rate, ETA) redrawn in place, with log lines printed above it. Piped: one plain line
 * per event, each starting with its seq. `--json`: one JSON object per event.
 */
export interface RunView {
  event(event: WatchedEvent): void;
  /** A line about the watching itself (reconnects), on stderr. */
  note(text: string): void;
  /** Called once, with the terminal status. */
  end(status: string): void;
}

type Out = { write(text: string): unknown; columns?: number };

interface BarState {
  stage: string | null;
  percent: number;
  item: string | null;
  done: number | null;
  total: number | null;
  rate: number | null;
  eta: string | null;
}

export function createView(mode: 'tty' | 'plain' | 'json', out: Out, err: Out): RunView {
  if (mode === 'json') {
    return { event: (event) => out.write(`${JSON.stringify(event)}\n`), note: (text) => err.write(`${text}\n`), end: () => {} };
  }
  if (mode === 'plain') {
    return { event: (event) => out.write(`${plainLine(event)}\n`), note: (text) => err.write(`${text}\n`), end: () => {} };
  }
  return new TerminalBar(out);
}

/** `#7 progress work 40.0% item-4 4/10 2.1/s ETA 00:00:03 step 4 of 10` */
export function plainLine(event: WatchedEvent): string {
  const head = `#${event.seq} ${event.eventType.toLowerCase()}`;
  switch (event.eventType) {
    case 'PROGRESS': {
      const rate = rateOf(event);
      const eta = etaOf(event);
      return [
        head,
        event.stage,
        event.progressPercent !== null ? `${event.progressPercent.toFixed(1)}%` : null,
        event.currentItem,
        event.completedItems !== null && event.totalItems !== null ? `${event.completedItems}/${event.totalItems}` : null,
        rate !== null ? `${rate}/s` : null,
        eta ? `ETA ${eta}` : null,
        event.message,
      ]
        .filter((part) => part !== null && part !== '')
        .join(' ');
    }
    case 'LOG':
    case 'ERROR':
      return `${head} ${event.level ?? 'info'}: ${event.message ?? ''}`;
    case 'STATUS':
      return `${head} ${(event.status ?? '').toLowerCase()}${event.message ? ` ${event.message}` : ''}${
        event.error ? ` [${event.error.code}]` : ''
      }`;
    case 'RESULT':
      return `${head} ${JSON.stringify(event.data)}`;
  }
}

function rateOf(event: WatchedEvent): number | null {
  const metrics = event.metrics ?? {};
  const rate = Object.entries(metrics).find(([key, value]) => key.endsWith('_per_second') && typeof value === 'number');
  return rate ? (rate[1] as number) : null;
}

function etaOf(event: WatchedEvent): string | null {
  const eta = event.metrics?.estimated_remaining;
  return typeof eta === 'string' ? eta : null;
}

const BAR_WIDTH = 24;
const CLEAR_LINE = '\r\x1b[2K';

class TerminalBar implements RunView {
  private state: BarState = { stage: null, percent: 0, item: null, done: null, total: null, rate: null, eta: null };
  private status = 'queued';
  private drawnAt = 0;
  private pending: NodeJS.Timeout | undefined;

  constructor(private readonly out: Out) {}

  event(event: WatchedEvent): void {
    switch (event.eventType) {
      case 'PROGRESS':
        // A new stage counts its own items: what the previous one showed no longer applies.
        if (event.stage && event.stage !== this.state.stage) this.state = { ...this.state, item: null, done: null, total: null, rate: null, eta: null };
        this.state = {
          stage: event.stage ?? this.state.stage,
          percent: event.progressPercent ?? this.state.percent,
          item: event.currentItem ?? this.state.item,
          done: event.completedItems ?? this.state.done,
          total: event.totalItems ?? this.state.total,
          rate: rateOf(event) ?? this.state.rate,
          eta: etaOf(event) ?? this.state.eta,
        };
        break;
      case 'STATUS':
        this.status = (event.status ?? this.status).toLowerCase();
        if (event.status === 'COMPLETED') this.state.percent = 100;
        break;
      case 'LOG':
      case 'ERROR':
        this.above(`${(event.level ?? 'info').padEnd(7)} ${event.message ?? ''}`);
        return;
      case 'RESULT':
        return;
    }
    this.drawSoon();
  }

  note(text: string): void {
    this.above(text);
  }

  end(status: string): void {
    clearTimeout(this.pending);
    this.status = status.toLowerCase();
    this.draw();
    this.out.write('\n');
  }

  /** A line printed above the bar, which is then drawn again below it. */
  private above(text: string): void {
    this.out.write(`${CLEAR_LINE}${text}\n`);
    this.draw();
  }

  /** At most one redraw per 50 ms: a flood of progress events does not flood the terminal. */
  private drawSoon(): void {
    const wait = this.drawnAt + 50 - Date.now();
    if (wait <= 0) this.draw();
    else this.pending ??= setTimeout(() => this.draw(), wait);
  }

  private draw(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    this.drawnAt = Date.now();
    const { stage, percent, item, done, total, rate, eta } = this.state;
    const filled = Math.round((BAR_WIDTH * Math.min(100, Math.max(0, percent))) / 100);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
    const parts = [
      this.status.padEnd(10),
      stage ?? '',
      bar,
      `${percent.toFixed(1).padStart(5)}%`,
      item ?? '',
      done !== null && total !== null ? `${done}/${total}` : '',
      rate !== null ? `${rate}/s` : '',
      eta ? `ETA ${eta}` : '',
    ].filter(Boolean);
    const line = parts.join('  ');
    const width = (this.out.columns ?? 120) - 1;
    this.out.write(`${CLEAR_LINE}${line.length > width ? line.slice(0, width) : line}`);
  }
}
