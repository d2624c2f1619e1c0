import { useEffect, useRef, useState } from 'react';
import { subscribeResumable } from '../api/subscriptions.js';
import { WatchRunEventsDocument, type RunSummaryFragment } from '../gql/graphql.js';
import { formatPercent } from '../ui/format.js';

interface Progress {
  percent: number;
  stage?: string;
  item?: string;
}

/**
 * A running run's progress in the queue view, live: its events from the list's `lastSeq` on,
 * keeping only the newest progress and showing it at most once per animation frame.
 */
export function LiveProgress({ run, onProgress }: { run: RunSummaryFragment; onProgress?(runId: string, percent: number): void }) {
  const [progress, setProgress] = useState<Progress>({ percent: run.progressPercent ?? 0, stage: run.stage ?? undefined });
  // Where the list's snapshot left off; later list refreshes don't restart the stream.
  const startSeq = useRef(run.lastSeq);
  useEffect(() => {
    let latest: Progress | undefined;
    let frame: number | undefined;
    let afterSeq = startSeq.current;
    const show = () => {
      frame = undefined;
      if (latest) setProgress(latest);
    };
    const stop = subscribeResumable(WatchRunEventsDocument, () => ({ runId: run.id, afterSeq }), {
      next: ({ runEvents: event }) => {
        if (event.seq <= afterSeq) return;
        afterSeq = event.seq;
        if (event.eventType !== 'PROGRESS' || event.progressPercent == null) return;
        latest = { percent: event.progressPercent, stage: event.stage ?? latest?.stage, item: event.currentItem ?? undefined };
        onProgress?.(run.id, event.progressPercent);
        frame ??= requestAnimationFrame(show);
      },
    });
    return () => {
      stop();
      if (frame !== undefined) cancelAnimationFrame(frame);
    };
  }, [run.id, onProgress]);
  return (
    <div className="mini-progress">
      <div
        className="progress small"
        role="progressbar"
        aria-label={`Progress of run #${run.number}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(progress.percent * 100) / 100}
      >
        <div className="progress-fill" style={{ width: `${Math.min(100, progress.percent)}%` }} />
      </div>
      <span className="muted">
        {formatPercent(progress.percent)}
        {progress.stage ? ` · ${progress.stage}` : ''}
        {progress.item ? ` · ${progress.item}` : ''}
      </span>
    </div>
  );
}
