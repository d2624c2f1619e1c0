import type { RunEventFieldsFragment, RunStatus } from '../gql/graphql.js';

/**
 * One run's events as the page shows them: the live state (status, progress, stage, rate, …)
 * and the log lines. Events arrive from the subscription one by one; they are applied in one
 * batch per animation frame (or every 100 ms in a hidden tab, where frames stop), so a flood
 * of thousands of events per second costs one render per frame, not one per event.
 *
 * Every event is applied at most once, in seq order: an event whose seq is not above the last
 * applied one is dropped (and counted), so a resumed subscription can never double a line.
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

/** Lines kept in memory; older ones are dropped from the page (the download has them all). */
export const MAX_LINES = 100_000;

/** Work per frame before the rest of a batch waits for the next one. */
const FRAME_BUDGET_MS = 8;

const TERMINAL: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

export function isTerminal(status: string | undefined | null): boolean {
  return !!status && TERMINAL.has(status);
}

export class RunEventStore {
  readonly lines: LogLine[] = [];
  /** Lines dropped from the front to stay under MAX_LINES. */
  droppedLines = 0;
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

  constructor(readonly runId: string) {}

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
    if (this.lines.length > MAX_LINES) {
      const extra = this.lines.length - MAX_LINES;
      this.lines.splice(0, extra);
      this.droppedLines += extra;
    }
    this.version += 1;
    performance.measure('dashboard:apply', { start: started, detail: { events: this.lastBatchSize } });
    for (const listener of this.listeners) listener();
  };

  private apply(event: RunEvent): void {
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
        if (event.message) this.addLine(event, 'progress', event.message);
        break;
      }
      case 'LOG':
        this.addLine(event, levelOf(event.level), event.message ?? '');
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
        const detail = event.error ? `: ${event.error.code} ${event.error.message}` : event.message ? `: ${event.message}` : '';
        this.addLine(event, event.status === 'FAILED' ? 'error' : 'status', `${event.status ?? 'status'}${detail}`);
        break;
      }
      case 'RESULT':
        state.result = event.data;
        this.addLine(event, 'result', 'Result received');
        break;
      case 'ERROR':
        if (event.error) state.error = event.error;
        this.addLine(event, 'error', event.message ?? event.error?.message ?? 'error');
        break;
    }
  }

  private enterStage(name: string, at: string): void {
    const open = this.state.stages.at(-1);
    if (open && !open.endedAt) open.endedAt = at;
    this.state.stages.push({ name, startedAt: at });
    this.state.stage = name;
  }

  private addLine(event: RunEvent, kind: LineKind, text: string): void {
    this.lines.push({ seq: event.seq, timestamp: event.timestamp, kind, text });
  }
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
