import type { EventDraft } from '../model/run-event.js';

/**
 * Adds `items_per_second` and `estimated_remaining` to progress events that carry item counts
 * but no metrics of their own. Rates are measured per stage: each stage counts its items anew.
 */
export class ProgressMetrics {
  private stage: string | undefined;
  private stageStartedAt = 0;
  private stageStartItems = 0;

  enrich<T extends EventDraft>(event: T, nowMs: number): T {
    if (event.event_type !== 'progress') return event;
    const completed = event.completed_items;
    const total = event.total_items;
    if (typeof completed !== 'number' || typeof total !== 'number') return event;
    const stage = typeof event.stage === 'string' ? event.stage : '';
    if (stage !== this.stage || completed < this.stageStartItems) {
      this.stage = stage;
      this.stageStartedAt = nowMs;
      this.stageStartItems = completed;
      return event;
    }
    if (event.metrics !== undefined) return event;
    const seconds = (nowMs - this.stageStartedAt) / 1000;
    const done = completed - this.stageStartItems;
    if (seconds <= 0 || done <= 0) return event;
    const rate = done / seconds;
    return {
      ...event,
      metrics: {
        items_per_second: Math.round(rate * 100) / 100,
        estimated_remaining: formatDuration(Math.max(0, total - completed) / rate),
      },
    };
  }
}

/** 332.4 → "00:05:32". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}
