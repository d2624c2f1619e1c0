import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { useCallback, useEffect, useRef, useState } from 'react';
import { request } from '../api/graphql-client.js';
import { cannotCancel, useViewer, type Viewer } from '../auth/session.js';
import { subscribeResumable, type ConnectionState } from '../api/subscriptions.js';
import { CancelDocument, RunsDocument, StrategiesDocument, WatchRunsDocument, type RunStatus, type RunSummaryFragment } from '../gql/graphql.js';
import { ConnectionBadge } from '../ui/connection-badge.js';
import { GuardedButton } from '../ui/guarded-button.js';
import { formatDuration, formatTime, statusLabel } from '../ui/format.js';
import { useNow } from '../ui/use-now.js';
import { estimateStarts } from './estimate-start.js';
import { LiveProgress } from './live-progress.js';

const route = getRouteApi('/runs');

export type RunsView = 'all' | 'active' | 'queued' | 'running' | 'finished';
const FINISHED: RunStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];
const PAGE = 20;

/**
 * `/runs`: running runs with live progress, the queue in order (position, why it waits), and
 * the recent finished runs, paged on the server. Filters live in the URL; everything refreshes
 * from `runUpdated`.
 */
export function RunsPage() {
  const { view = 'all', strategy, after } = route.useSearch();
  const navigate = useNavigate({ from: '/runs' });
  const viewer = useViewer();
  const connection = useRunUpdates();
  const strategies = useQuery({ queryKey: ['strategies'], queryFn: () => request(StrategiesDocument) });
  const show = (section: 'queued' | 'running' | 'finished') => view === 'all' || view === section || (view === 'active' && section !== 'finished');

  const running = useRuns(['RUNNING', 'CANCELLING'], strategy, undefined, 100, show('running'));
  const queued = useRuns(['QUEUED'], strategy, undefined, 100, show('queued'));
  const finished = useRuns(FINISHED, strategy, after, PAGE, show('finished'));
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string, on: boolean) =>
    setSelected((current) => {
      const next = new Set(current);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const queryClient = useQueryClient();
  const cancelSelected = useMutation({
    mutationFn: (ids: string[]) => Promise.allSettled(ids.map((id) => request(CancelDocument, { id }))),
    onSettled: () => {
      setSelected(new Set());
      void queryClient.invalidateQueries({ queryKey: ['runs'] });
    },
  });

  const queuedRuns = [...(queued.data?.runs.nodes ?? [])].sort((a, b) => (a.queuePosition ?? 1e9) - (b.queuePosition ?? 1e9));
  const runningRuns = running.data?.runs.nodes ?? [];
  const activeIds = new Set([...queuedRuns, ...runningRuns].map((run) => run.id));
  const selectedActive = [...selected].filter((id) => activeIds.has(id));
  // The running runs' live progress (newer than the list's snapshot) feeds the estimates.
  const liveProgress = useRef(new Map<string, number>());
  const onProgress = useCallback((runId: string, percent: number) => void liveProgress.current.set(runId, percent), []);
  const now = useNow(1000);
  const starts = estimateStarts(
    runningRuns.map((run) => ({ ...run, progressPercent: liveProgress.current.get(run.id) ?? run.progressPercent })),
    queuedRuns,
    finished.data?.runs.nodes ?? [],
    now,
  );

  return (
    <div className="runs-page">
      <header className="page-header">
        <h1>Runs</h1>
        <ConnectionBadge state={connection} />
      </header>
      <form className="filters" aria-label="Filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Show{' '}
          <select value={view} onChange={(event) => void navigate({ search: (s) => ({ ...s, view: event.target.value as RunsView, after: undefined }) })}>
            <option value="all">All runs</option>
            <option value="active">Queued and running</option>
            <option value="running">Running</option>
            <option value="queued">Queued</option>
            <option value="finished">Finished</option>
          </select>
        </label>
        <label>
          Strategy{' '}
          <select value={strategy ?? ''} onChange={(event) => void navigate({ search: (s) => ({ ...s, strategy: event.target.value || undefined, after: undefined }) })}>
            <option value="">Any strategy</option>
            {strategies.data?.strategies.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <GuardedButton
          className="danger"
          disabled={!selectedActive.length || cancelSelected.isPending}
          reason={viewer?.role === 'VIEWER' ? cannotCancel(viewer, { startedBy: null }) : undefined}
          quietReason
          onClick={() => cancelSelected.mutate(selectedActive)}
        >
          Cancel selected ({selectedActive.length})
        </GuardedButton>
      </form>

      {show('running') && (
        <section aria-labelledby="running-heading" className="card">
          <h2 id="running-heading">Running ({runningRuns.length})</h2>
          <RunTable
            label="Running runs"
            runs={runningRuns}
            loading={running.isPending}
            empty="Nothing is running."
            selected={selected}
            onSelect={toggle}
            viewer={viewer}
            columns={['Run', 'Strategy', 'Status', 'Progress', 'Started', 'Elapsed']}
            cells={(run) => [
              <StatusBadge key="s" status={run.status} />,
              <LiveProgress key="p" run={run} onProgress={onProgress} />,
              formatTime(run.startedAt),
              <Elapsed key="e" since={run.startedAt} />,
            ]}
          />
        </section>
      )}

      {show('queued') && (
        <section aria-labelledby="queued-heading" className="card">
          <h2 id="queued-heading">Queued ({queuedRuns.length})</h2>
          <RunTable
            label="Queued runs, in the order they will start"
            runs={queuedRuns}
            loading={queued.isPending}
            empty="The queue is empty."
            selected={selected}
            onSelect={toggle}
            viewer={viewer}
            columns={['Run', 'Strategy', 'Position', 'Waiting because', 'Estimated start', 'Queued at']}
            cells={(run) => {
              const start = starts.get(run.id);
              return [
                <span key="q" data-testid="queue-position">
                  {run.queuePosition ?? '–'}
                </span>,
                run.waitReason ?? '–',
                <span key="e" data-testid="estimated-start">
                  {start === undefined ? 'unknown' : start < 1000 ? 'any moment' : `in about ${formatDuration(start)}`}
                </span>,
                formatTime(run.createdAt),
              ];
            }}
          />
        </section>
      )}

      {show('finished') && (
        <section aria-labelledby="finished-heading" className="card">
          <h2 id="finished-heading">Recently finished</h2>
          <RunTable
            label="Finished runs, newest first"
            runs={finished.data?.runs.nodes ?? []}
            loading={finished.isPending}
            empty="No finished runs."
            viewer={viewer}
            columns={['Run', 'Strategy', 'Status', 'Finished', 'Duration']}
            cells={(run) => [
              <StatusBadge key="s" status={run.status} />,
              formatTime(run.finishedAt),
              run.startedAt && run.finishedAt ? formatDuration(Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : '–',
            ]}
          />
          <div className="actions">
            {after && (
              <Link to="/runs" search={(s) => ({ ...s, after: undefined })} className="button">
                Newest
              </Link>
            )}
            {finished.data?.runs.pageInfo.hasNextPage && (
              <Link to="/runs" search={(s) => ({ ...s, after: finished.data.runs.pageInfo.endCursor ?? undefined })} className="button">
                Older runs
              </Link>
            )}
          </div>
        </section>
      )}
    </div>
  );
}

function useRuns(status: RunStatus[], strategy: string | undefined, after: string | undefined, first: number, enabled: boolean) {
  return useQuery({
    queryKey: ['runs', status.join(','), strategy ?? '', after ?? '', first],
    queryFn: () => request(RunsDocument, { status, strategy, after, first }),
    enabled,
    placeholderData: (previous) => previous,
  });
}

/** Refetches the lists (at most every 250 ms) whenever any run changes status. */
function useRunUpdates(): ConnectionState {
  const queryClient = useQueryClient();
  const [state, setState] = useState<ConnectionState>('connecting');
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        void queryClient.invalidateQueries({ queryKey: ['runs'] });
      }, 250);
    };
    const stop = subscribeResumable(WatchRunsDocument, () => ({}), {
      next: (data) => {
        queryClient.setQueryData(['run-summary', data.runUpdated.id], data.runUpdated);
        refresh();
      },
      state: setState,
      // Missed changes while away: read the lists again.
      reconnected: refresh,
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  }, [queryClient]);
  return state;
}

interface RunTableProps {
  label: string;
  runs: readonly RunSummaryFragment[];
  loading: boolean;
  empty: string;
  columns: string[];
  cells(run: RunSummaryFragment): React.ReactNode[];
  selected?: ReadonlySet<string>;
  onSelect?(id: string, on: boolean): void;
  /** With AUTH=tokens: who started each run is shown, and what this viewer may not cancel is disabled. */
  viewer: Viewer | undefined;
}

function RunTable({ label, runs, loading, empty, columns, cells, selected, onSelect, viewer }: RunTableProps) {
  if (loading) return <p role="status">Loading…</p>;
  if (!runs.length) return <p className="muted">{empty}</p>;
  const showStartedBy = viewer?.auth === 'tokens';
  return (
    <div className="table-scroll">
      <table className="runs-table" aria-label={label}>
        <thead>
          <tr>
            {onSelect && (
              <th scope="col">
                <span className="visually-hidden">Select</span>
              </th>
            )}
            {columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
            {showStartedBy && <th scope="col">Started by</th>}
            {onSelect && (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => {
            const noCancel = cannotCancel(viewer, run);
            return (
            <tr key={run.id} data-run-id={run.id}>
              {onSelect && (
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select run #${run.number}`}
                    checked={!noCancel && (selected?.has(run.id) ?? false)}
                    disabled={noCancel !== undefined}
                    title={noCancel}
                    onChange={(event) => onSelect(run.id, event.target.checked)}
                  />
                </td>
              )}
              <td>
                <Link to="/runs/$runId" params={{ runId: run.id }}>
                  #{run.number}
                </Link>
              </td>
              <td>{run.strategy}</td>
              {cells(run).map((cell, index) => (
                <td key={index}>{cell}</td>
              ))}
              {showStartedBy && <td data-testid="started-by">{run.startedBy ?? '–'}</td>}
              {onSelect && (
                <td>
                  <CancelButton run={run} reason={noCancel} />
                </td>
              )}
            </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function CancelButton({ run, reason }: { run: RunSummaryFragment; reason: string | undefined }) {
  const queryClient = useQueryClient();
  const cancel = useMutation({
    mutationFn: () => request(CancelDocument, { id: run.id }),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ['runs'] }),
  });
  if (run.status === 'CANCELLING') return <span className="muted">Cancelling…</span>;
  return (
    <GuardedButton className="small" aria-label={`Cancel run #${run.number}`} disabled={cancel.isPending} reason={reason} quietReason onClick={() => cancel.mutate()}>
      Cancel
    </GuardedButton>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status.toLowerCase()}`}>{statusLabel(status)}</span>;
}

function Elapsed({ since }: { since: string | null }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return <>{since ? formatDuration(now - Date.parse(since)) : '–'}</>;
}

