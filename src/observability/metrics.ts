import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunRecord } from '../db/runs.js';
import { EVENT_TYPES } from '../model/run-event.js';
import { isTerminal, RUN_STATUSES, toWireStatus } from '../model/run-status.js';

/**
 * Every metric of the service, in one place, on a registry of its own (several apps may live
 * in one process, as in the tests). The runner and the HTTP edge record through the small
 * interfaces below; nothing else touches prom-client. No metric carries a run id or any other
 * unbounded label: runs are labelled by strategy (registered names) and status only.
 */

/** What the run engine reports. */
export interface RunnerMetrics {
  /** A committed status change (its status event is stored), made by this instance. */
  runTransitioned(run: RunRecord): void;
  /** A batch of a run's output events was committed and published. */
  eventBatchStored(batch: {
    events: readonly { readonly event_type: string }[];
    commitSeconds: number;
    /** `performance.now()` when each event's line was read, for the delivery time. */
    receivedAt: readonly number[];
  }): void;
}

/** What the HTTP edge and the maintenance jobs report. */
export interface EdgeMetrics {
  /** An open GraphQL subscription; call the returned function when it ends. */
  subscriptionOpened(): () => void;
  /** Runs (and their events) deleted by retention. */
  retentionDeleted(counts: { runs: number; events: number }): void;
}

export type Metrics = RunnerMetrics & EdgeMetrics;

/** Read at scrape time (values that live elsewhere: the database, the open streams). */
export interface MetricSources {
  /** Queued and executing runs across all instances (read from the database). */
  runCounts(): Promise<{ queued: number; running: number }>;
  /** Open REST SSE streams on this instance. */
  sseConnections(): number;
}

export interface MetricsRegistry extends Metrics {
  readonly registry: Registry;
  /** Supplies the values read at scrape time; until then they read 0. */
  setSources(sources: MetricSources): void;
  /** The Prometheus text exposition. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** Seconds, from sub-millisecond (a batch commit) to hours (a long run). */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];
const FAST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): MetricsRegistry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let sources: MetricSources | undefined;

  const runsTotal = new Counter({
    name: 'strategy_runner_runs_total',
    help: 'Runs that reached each status through this instance (queued counts submissions).',
    labelNames: ['status'],
    registers: [registry],
  });
  const runDuration = new Histogram({
    name: 'strategy_runner_run_duration_seconds',
    help: 'From start to terminal status, by strategy and final status.',
    labelNames: ['strategy', 'status'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: 'strategy_runner_queue_wait_seconds',
    help: 'From queued to started, by strategy.',
    labelNames: ['strategy'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const eventsTotal = new Counter({
    name: 'strategy_runner_events_total',
    help: 'Run events stored (ingested) by this instance, by event type.',
    labelNames: ['event_type'],
    registers: [registry],
  });
  const delivery = new Histogram({
    name: 'strategy_runner_event_delivery_seconds',
    help: 'From a line read on the strategy’s stdout/stderr to its event published (stored first).',
    buckets: FAST_BUCKETS,
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'strategy_runner_store_batch_size',
    help: 'Events stored per batch (one transaction).',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    registers: [registry],
  });
  const commitTime = new Histogram({
    name: 'strategy_runner_store_commit_seconds',
    help: 'Time to store one batch of events (its transaction, commit included).',
    buckets: FAST_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'strategy_runner_queue_depth',
    help: 'Runs waiting in the queue (all instances; read from the database).',
    registers: [registry],
    async collect() {
      this.set((await sources?.runCounts())?.queued ?? 0);
    },
  });
  new Gauge({
    name: 'strategy_runner_runs_running',
    help: 'Runs executing, RUNNING or CANCELLING (all instances; read from the database).',
    registers: [registry],
    async collect() {
      this.set((await sources?.runCounts())?.running ?? 0);
    },
  });
  new Gauge({
    name: 'strategy_runner_sse_connections',
    help: 'Open REST SSE streams (GET /api/strategies/sse/{run_id}) on this instance.',
    registers: [registry],
    collect() {
      this.set(sources?.sseConnections() ?? 0);
    },
  });
  const subscriptions = new Gauge({
    name: 'strategy_runner_graphql_subscriptions',
    help: 'Open GraphQL subscriptions (over SSE) on this instance.',
    registers: [registry],
  });
  const retainedRuns = new Counter({
    name: 'strategy_runner_retention_deleted_runs_total',
    help: 'Finished runs deleted by retention (RETENTION_DAYS) on this instance.',
    registers: [registry],
  });
  const retainedEvents = new Counter({
    name: 'strategy_runner_retention_deleted_events_total',
    help: 'Events deleted with those runs.',
    registers: [registry],
  });

  // Every series exists from the start (at 0), so rate() and alerts see the first increment.
  for (const status of RUN_STATUSES) runsTotal.inc({ status: toWireStatus(status) }, 0);
  for (const eventType of EVENT_TYPES) eventsTotal.inc({ event_type: eventType }, 0);

  // One database read per scrape for both run gauges.
  let counting: Promise<{ queued: number; running: number }> | undefined;
  const countOnce = (read: () => Promise<{ queued: number; running: number }>) =>
    (counting ??= read().finally(() => setImmediate(() => (counting = undefined))));

  return {
    registry,
    setSources(given) {
      sources = { runCounts: () => countOnce(() => given.runCounts()), sseConnections: () => given.sseConnections() };
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    runTransitioned(run) {
      const status = toWireStatus(run.status);
      runsTotal.inc({ status });
      // Its status event (seq 1 is the queued one) was stored with the transition.
      eventsTotal.inc({ event_type: 'status' });
      if (run.status === 'RUNNING' && run.startedAt) {
        queueWait.observe({ strategy: run.strategy }, secondsBetween(run.createdAt, run.startedAt));
      }
      if (isTerminal(run.status) && run.startedAt && run.finishedAt) {
        runDuration.observe({ strategy: run.strategy, status }, secondsBetween(run.startedAt, run.finishedAt));
      }
    },
    eventBatchStored({ events, commitSeconds, receivedAt }) {
      batchSize.observe(events.length);
      // One increment per event type, not per event: a flood's batch holds thousands.
      const byType = new Map<string, number>();
      for (const event of events) byType.set(event.event_type, (byType.get(event.event_type) ?? 0) + 1);
      for (const [eventType, count] of byType) eventsTotal.inc({ event_type: eventType }, count);
      commitTime.observe(commitSeconds);
      const now = performance.now();
      for (const at of receivedAt) delivery.observe((now - at) / 1000);
    },
    subscriptionOpened() {
      subscriptions.inc();
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        subscriptions.dec();
      };
    },
    retentionDeleted({ runs, events }) {
      retainedRuns.inc(runs);
      retainedEvents.inc(events);
    },
  };
}

const secondsBetween = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

/** Records nothing: for code run without an app (and tests that build their own parts). */
export const noMetrics: Metrics = {
  runTransitioned() {},
  eventBatchStored() {},
  subscriptionOpened: () => () => {},
  retentionDeleted() {},
};
