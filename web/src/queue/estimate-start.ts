import type { RunSummaryFragment } from '../gql/graphql.js';

/**
 * When each queued run should start, in ms from `now`, or undefined when there is no basis for
 * a guess. The running runs free their slots when their progress says they will finish
 * (elapsed × remaining / done); each queued run then takes the first free slot, in queue order,
 * and holds it for the median duration of its strategy's recent runs. The slots are the ones
 * in use now: the server does not publish its limit.
 */
export function estimateStarts(
  running: readonly RunSummaryFragment[],
  queued: readonly RunSummaryFragment[],
  finished: readonly RunSummaryFragment[],
  now: number,
): Map<string, number | undefined> {
  const estimates = new Map<string, number | undefined>();
  const slots: number[] = [];
  for (const run of running) {
    const percent = run.progressPercent ?? 0;
    if (!run.startedAt || percent <= 0) return unknown(queued);
    const elapsed = now - Date.parse(run.startedAt);
    slots.push(Math.max(0, (elapsed * (100 - percent)) / percent));
  }
  if (!slots.length) return unknown(queued);
  const durations = durationsByStrategy(finished);
  for (const run of queued) {
    slots.sort((a, b) => a - b);
    const start = slots.shift()!;
    estimates.set(run.id, start);
    const duration = durations.get(run.strategy);
    if (duration === undefined) return fill(estimates, queued);
    slots.push(start + duration);
  }
  return estimates;
}

function durationsByStrategy(finished: readonly RunSummaryFragment[]): Map<string, number> {
  const samples = new Map<string, number[]>();
  for (const run of finished) {
    if (run.status !== 'COMPLETED' || !run.startedAt || !run.finishedAt) continue;
    const list = samples.get(run.strategy) ?? [];
    list.push(Date.parse(run.finishedAt) - Date.parse(run.startedAt));
    samples.set(run.strategy, list);
  }
  return new Map([...samples].map(([strategy, list]) => [strategy, list.sort((a, b) => a - b)[Math.floor(list.length / 2)]!]));
}

function unknown(queued: readonly RunSummaryFragment[]): Map<string, number | undefined> {
  return new Map(queued.map((run) => [run.id, undefined]));
}

function fill(estimates: Map<string, number | undefined>, queued: readonly RunSummaryFragment[]): Map<string, number | undefined> {
  for (const run of queued) if (!estimates.has(run.id)) estimates.set(run.id, undefined);
  return estimates;
}
