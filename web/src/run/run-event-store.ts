import type { RunEventFieldsFragment, RunStatus } from '../gql/graphql.js';

/**
 * One run's events as the page shows them: the live state (status, progress, stage, rate, …)
 * and the log lines. Events arrive from the subscription one by one; they are applied in one
 * batch per animation frame (or every 100 ms in a hidden tab, where frames stop), so a flood
 * of thousands of events per second costs one render per frame, not one per event.
 *
 * Every event is applied at most once, in seq order: an event whose seq is not above the last
 * applied one is dropped (and counted), so a resumed subscription can never double a line.
 *
 * The log is a window of at most `maxLines` lines ending at the live tail. While the reader
 * follows the tail, lines beyond it are dropped from the front; scrolled up, `loadOlder` pages
 * the lines before the window back in from storage (`run { events(afterSeq, first) }`). The
 * window always holds every line of the events from `olderBefore` on, so a page asks for
 * exactly the seqs below it: no gap, no duplicate.
 */

export type RunEvent = RunEventFieldsFragment;

export type LineKind = 'progress' | 'status' | 'result' | 'error' | 'debug' | 'info' | 'warning';

export interface LogLine {
  readonly seq: number;
  readonly timestamp: string;
  readonly kind: LineKind;
  readonly text: string;
}

export interface StageSpan {
  readonly name: string;
  readonly startedAt: string;
  endedAt?: string;
}

export interface LiveState {
  lastSeq: number;
  status?: RunStatus;
  progressPercent?: number;
  stage?: string;
  message?: string;
  currentItem?: string;
  completedItems?: number;
  totalItems?: number;
  /** Items per second, from the event's metrics (`*_per_second`). */
  rate?: number;
  rateUnit?: string;
  /** `HH:MM:SS`, from the event's metrics. */
  eta?: string;
  result?: unknown;
  error?: RunEvent['error'];
  exitCode?: number;
  stages: StageSpan[];
}

/** Lines kept in memory while following the tail; older ones are paged back from storage. */
export const MAX_LINES = 100_000;

/** Tests set a small window here (read once per run page) to exercise paging. */
const WINDOW_KEY = 'strategy-runner.logWindow';

function configuredWindow(): number {
  try {
    const value = Number(globalThis.localStorage?.getItem(WINDOW_KEY));
    return Number.isInteger(value) && value > 0 ? value : MAX_LINES;
  } catch {
    return MAX_LINES;
  }
}

/** Stored events asked for per request when paging (the API allows up to 5,000). */
const EVENTS_PER_REQUEST = 1000;
/** Lines one `loadOlder` adds (more requests when events carry no line). */
const LINES_PER_PAGE = 500;

/** Reads stored events with `seq > afterSeq`, oldest first, at most `first`. */
export type EventPageReader = (afterSeq: number, first: number) => Promise<readonly RunEvent[]>;

/** Work per frame before the rest of a batch waits for the next one. */
const FRAME_BUDGET_MS = 8;

const TERMINAL: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

export function isTerminal(status: string | undefined | null): boolean {
  return !!status && TERMINAL.has(status);
}

export class RunEventStore {
  lines: LogLine[] = [];
  /** Lines of the run before the window (dropped to stay within `maxLines`, not paged back yet). */
  droppedLines = 0;
  /** The window holds every line of the events with seq ≥ this; 1 when it starts at the beginning. */
  olderBefore = 1;
  /** Bumped whenever the front of the window changes (trimmed or paged back). */
  frontEpoch = 0;
  /** The reader is at the tail (set by the log view): only then does the window slide forward. */
  private following = true;
  private loadingOlder: Promise<void> | undefined;
  /** Events refused because their seq was already applied (should stay 0). */
  duplicates = 0;
  readonly state: LiveState = { lastSeq: 0, stages: [] };
  /** Bumped once per applied batch; what React subscribes to. */
  version = 0;

  /** `performance.now()` when the last batch began (the page measures batch → commit). */
  flushStartedAt = 0;
  /** Events in the last batch. */
  lastBatchSize = 0;

  private pending: RunEvent[] = [];
  /** How many of `pending` are already applied (a batch cut short by the frame budget). */
  private applied = 0;
  private frame: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly runId: string,
    /** @default MAX_LINES (or the test override in localStorage) */
    readonly maxLines: number = configuredWindow(),
  ) {}

  get hasOlder(): boolean {
    return this.olderBefore > 1;
  }

  get isLoadingOlder(): boolean {
    return this.loadingOlder !== undefined;
  }

  /**
   * The log view says whether the reader is at the tail. Scrolled up, the window grows (up to
   * twice `maxLines`) rather than pull lines from under the reader.
   */
  setFollowing(following: boolean): void {
    if (this.following === following) return;
    this.following = following;
    if (following && this.trimFront()) this.notify();
  }

  /**
   * Pages the lines just before the window back in from storage (about LINES_PER_PAGE of
   * them, fewer at the start of the run). One load at a time; a load overtaken by a trim of
   * the front is dropped, so the window stays contiguous.
   */
  loadOlder(read: EventPageReader): Promise<void> {
    this.loadingOlder ??= this.readOlder(read).finally(() => {
      this.loadingOlder = undefined;
      this.notify();
    });
    this.notify();
    return this.loadingOlder;
  }

  /** Every line of the run: those before the window from storage, then the window. */
  async allLines(read: EventPageReader): Promise<LogLine[]> {
    const before = this.olderBefore;
    const window = this.lines.slice();
    const older: LogLine[] = [];
    for (let after = 0; after < before - 1; ) {
      const first = Math.min(5000, before - 1 - after);
      const events = await read(after, first);
      for (const event of events) if (event.seq < before) addLineOf(older, event);
      after += first;
    }
    return [...older, ...window];
  }

  private async readOlder(read: EventPageReader): Promise<void> {
    const epoch = this.frontEpoch;
    let before = this.olderBefore;
    const page: LogLine[][] = [];
    let count = 0;
    while (before > 1 && count < LINES_PER_PAGE) {
      // The seqs in (after, before) number `first`, so one answer holds all of them.
      const after = Math.max(0, before - 1 - EVENTS_PER_REQUEST);
      const first = before - 1 - after;
      const events = await read(after, first);
      if (this.frontEpoch !== epoch) return;
      const lines: LogLine[] = [];
      for (const event of events) if (event.seq > after && event.seq < before) addLineOf(lines, event);
      page.unshift(lines);
      count += lines.length;
      before = after + 1;
    }
    this.lines = [...page.flat(), ...this.lines];
    this.olderBefore = before;
    this.droppedLines = Math.max(0, this.droppedLines - count);
    this.frontEpoch += 1;
    this.version += 1;
  }

  /** Drops lines from the front beyond the window; true when it did. */
  private trimFront(): boolean {
    const limit = this.following ? this.maxLines : this.maxLines * 2;
    if (this.lines.length <= limit) return false;
    const extra = this.lines.length - this.maxLines;
    this.lines.splice(0, extra);
    this.droppedLines += extra;
    this.olderBefore = this.lines[0]!.seq;
    this.frontEpoch += 1;
    this.version += 1;
    return true;
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** seq to resume after: everything applied and everything waiting for the next frame. */
  get resumeAfter(): number {
    return this.pending.at(-1)?.seq ?? this.state.lastSeq;
  }

  push(event: RunEvent): void {
    if (event.seq <= this.resumeAfter) {
      this.duplicates += 1;
      return;
    }
    this.pending.push(event);
    this.schedule();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  /** Leaves no frame or timer scheduled (the page is going away). */
  dispose(): void {
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.frame = undefined;
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.frame !== undefined) return;
    this.frame = requestAnimationFrame(this.flush);
    // Hidden tabs get no frames: flush on a timer instead.
    this.timer = setTimeout(this.flush, 100);
  }

  /**
   * Applies the waiting events, then notifies once. A batch stops after FRAME_BUDGET_MS of
   * work (checked every few events) and leaves the rest to the next frame, so a flood never
   * turns into one long task, however many events arrived at once.
   */
  flush = (): void => {
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.frame = undefined;
    this.timer = undefined;
    if (this.applied >= this.pending.length) return;
    const started = performance.now();
    this.flushStartedAt = started;
    const from = this.applied;
    let index = from;
    while (index < this.pending.length) {
      this.apply(this.pending[index]!);
      index += 1;
      if ((index - from) % 64 === 0 && performance.now() - started > FRAME_BUDGET_MS) break;
    }
    this.lastBatchSize = index - from;
    if (index >= this.pending.length) {
      this.pending = [];
      this.applied = 0;
    } else {
      this.applied = index;
      this.schedule();
    }
    this.trimFront();
    this.version += 1;
    performance.measure('dashboard:apply', { start: started, detail: { events: this.lastBatchSize } });
    this.notify();
  };

  private apply(event: RunEvent): void {
    addLineOf(this.lines, event);
    const state = this.state;
    state.lastSeq = event.seq;
    switch (event.eventType) {
      case 'PROGRESS': {
        if (event.progressPercent != null) state.progressPercent = event.progressPercent;
        if (event.stage != null && event.stage !== state.stage) this.enterStage(event.stage, event.timestamp);
        if (event.message != null) state.message = event.message;
        if (event.currentItem != null) state.currentItem = event.currentItem;
        if (event.completedItems != null) state.completedItems = event.completedItems;
        if (event.totalItems != null) state.totalItems = event.totalItems;
        readMetrics(state, event.metrics);
        break;
      }
      case 'LOG':
        break;
      case 'STATUS': {
        if (event.status) state.status = event.status;
        if (event.message != null) state.message = event.message;
        if (event.exitCode != null) state.exitCode = event.exitCode;
        if (event.error) state.error = event.error;
        if (isTerminal(event.status)) {
          const open = state.stages.at(-1);
          if (open && !open.endedAt) open.endedAt = event.timestamp;
          if (event.status === 'COMPLETED') state.progressPercent = 100;
        }
        break;
      }
      case 'RESULT':
        state.result = event.data;
        break;
      case 'ERROR':
        if (event.error) state.error = event.error;
        break;
    }
  }

  private enterStage(name: string, at: string): void {
    const open = this.state.stages.at(-1);
    if (open && !open.endedAt) open.endedAt = at;
    this.state.stages.push({ name, startedAt: at });
    this.state.stage = name;
  }

}

/** The log line an event shows as, if any (a progress event without a message has none). */
export function lineOf(event: RunEvent): LogLine | undefined {
  const line = (kind: LineKind, text: string): LogLine => ({ seq: event.seq, timestamp: event.timestamp, kind, text });
  switch (event.eventType) {
    case 'PROGRESS':
      return event.message ? line('progress', event.message) : undefined;
    case 'LOG':
      return line(levelOf(event.level), event.message ?? '');
    case 'STATUS': {
      const detail = event.error ? `: ${event.error.code} ${event.error.message}` : event.message ? `: ${event.message}` : '';
      return line(event.status === 'FAILED' ? 'error' : 'status', `${event.status ?? 'status'}${detail}`);
    }
    case 'RESULT':
      return line('result', 'Result received');
    case 'ERROR':
      return line('error', event.message ?? event.error?.message ?? 'error');
    default:
      return undefined;
  }
}

function addLineOf(lines: LogLine[], event: RunEvent): void {
  const line = lineOf(event);
  if (line) lines.push(line);
}

function levelOf(level: string | null): LineKind {
  switch (level) {
    case 'error':
    case 'critical':
      return 'error';
    case 'warning':
    case 'warn':
      return 'warning';
    case 'debug':
      return 'debug';
    default:
      return 'info';
  }
}

function readMetrics(state: LiveState, metrics: unknown): void {
  if (!metrics || typeof metrics !== 'object') return;
  for (const [key, value] of Object.entries(metrics as Record<string, unknown>)) {
    if (typeof value === 'number' && key.endsWith('_per_second')) {
      state.rate = value;
      state.rateUnit = key.slice(0, -'_per_second'.length).replace(/_/g, ' ');
    } else if (key === 'estimated_remaining' && typeof value === 'string') {
      state.eta = value;
    }
  }
}
