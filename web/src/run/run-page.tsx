import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { lazy, Suspense, useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from 'react';
import { request, type GraphQLRequestError } from '../api/graphql-client.js';
import { cannotCancel, cannotStart, useViewer } from '../auth/session.js';
import { CancelDocument, ExecuteDocument, RunDetailDocument, type RunDetailFragment } from '../gql/graphql.js';
import { ConnectionBadge } from '../ui/connection-badge.js';
import { GuardedButton } from '../ui/guarded-button.js';
import { formatDuration, formatPercent, formatTime, statusLabel } from '../ui/format.js';
import { useNow } from '../ui/use-now.js';
import { ResultView } from './result-view.js';
import { isTerminal, type LiveState } from './run-event-store.js';
import { useRunEvents } from './use-run-events.js';

const LogView = lazy(() => import('./log-view.js'));
const route = getRouteApi('/runs/$runId');

/** `/runs/{id}`: one run, live. */
export function RunPage() {
  const { runId } = route.useParams();
  // A new store per run: navigating from one run to another starts from scratch.
  return <RunView key={runId} runId={runId} />;
}

function RunView({ runId }: { runId: string }) {
  const { line } = route.useSearch();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const detail = useQuery({ queryKey: ['run', runId], queryFn: () => request(RunDetailDocument, { id: runId }) });
  const { store, connection, error: streamError } = useRunEvents(runId);
  const version = useSyncExternalStore(store.subscribe, store.getVersion);
  const live = store.state;
  const run = detail.data?.run;

  // Batch → commit cost, for the browser benchmark (one measure per applied batch).
  useLayoutEffect(() => {
    if (store.flushStartedAt) performance.measure('dashboard:batch', { start: store.flushStartedAt, detail: { events: store.lastBatchSize } });
  }, [version, store]);

  // The stored row catches up when the status changes (started, finished: times, result, error).
  const liveStatus = live.status;
  useEffect(() => {
    if (liveStatus) void queryClient.invalidateQueries({ queryKey: ['run', runId] });
  }, [liveStatus, runId, queryClient]);

  const notice = useFinishNotice(run?.number, liveStatus);

  if (detail.isPending) return <p role="status">Loading run…</p>;
  if (detail.error) return <p role="alert">Could not load the run: {detail.error.message}</p>;
  if (!run) {
    return (
      <section>
        <h1>Run not found</h1>
        <p>
          There is no run <code>{runId}</code>. <Link to="/runs">See all runs</Link>.
        </p>
      </section>
    );
  }

  const status = live.status ?? run.status;
  return (
    <article className="run-page">
      <header className="page-header">
        <h1>
          Run #{run.number} <span className="muted">· {run.strategy}</span>
        </h1>
        <ConnectionBadge state={isTerminal(status) && connection === 'done' ? 'done' : connection} />
      </header>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {streamError && <p role="alert">The live stream stopped: {streamError.message}</p>}
      <RunActions run={run} status={status} />
      <ProgressPanel run={run} live={live} status={status} />
      <StageTimeline live={live} />
      {status === 'FAILED' && <FailurePanel run={run} live={live} />}
      {status === 'COMPLETED' && (live.result ?? run.result) != null && <ResultView result={live.result ?? run.result} runId={run.id} />}
      <Suspense fallback={<p role="status">Loading the log viewer…</p>}>
        <LogView
          store={store}
          highlight={line}
          onPermalink={(seq) => void navigate({ to: '/runs/$runId', params: { runId }, search: { line: seq }, replace: true })}
        />
      </Suspense>
      <details className="card">
        <summary>
          <h2 className="inline">Parameters</h2>
        </summary>
        <pre className="json" data-testid="run-parameters" tabIndex={0}>
          {JSON.stringify(run.parameters, null, 2)}
        </pre>
      </details>
    </article>
  );
}

function RunActions({ run, status }: { run: RunDetailFragment; status: string }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const viewer = useViewer();
  const [confirming, setConfirming] = useState(false);
  const cancel = useMutation({
    mutationFn: () => request(CancelDocument, { id: run.id }),
    onSettled: () => {
      setConfirming(false);
      void queryClient.invalidateQueries({ queryKey: ['run', run.id] });
    },
  });
  const rerun = useMutation({
    mutationFn: () => request(ExecuteDocument, { input: { strategy: run.strategy, parameters: run.parameters } }),
    onSuccess: (data) => void navigate({ to: '/runs/$runId', params: { runId: data.executeStrategy.id } }),
  });
  const cancellable = status === 'QUEUED' || status === 'RUNNING';
  const noCancel = cannotCancel(viewer, run);
  const noStart = cannotStart(viewer);
  return (
    <div className="actions">
      {cancellable && !confirming && (
        <GuardedButton className="danger" onClick={() => setConfirming(true)} reason={noCancel} quietReason>
          Cancel
        </GuardedButton>
      )}
      {cancellable && confirming && (
        <span role="group" aria-label="Confirm cancel" className="confirm">
          Stop this run?{' '}
          <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Yes, cancel the run
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep it running
          </button>
        </span>
      )}
      <GuardedButton onClick={() => rerun.mutate()} disabled={rerun.isPending} reason={noStart} quietReason>
        Re-run
      </GuardedButton>
      {noStart ? (
        // A link cannot be disabled; the same reason is given once, beside Re-run.
        <button type="button" disabled title={noStart}>
          Clone and edit
        </button>
      ) : (
        <Link className="button" to="/" search={{ strategy: run.strategy, from: run.id }}>
          Clone and edit
        </Link>
      )}
      {/* Each disabled button describes itself; sighted readers get the reasons once, here. */}
      {(noStart || (cancellable && noCancel)) && (
        <span className="hint" data-testid="role-hint">
          {noStart && cancellable && noCancel ? 'Your role is viewer: you can watch runs; only an operator or an admin may start or cancel them.' : (noStart ?? noCancel)}
        </span>
      )}
      {cancel.error && <span role="alert">{(cancel.error as GraphQLRequestError).message}</span>}
      {rerun.error && <span role="alert">{(rerun.error as GraphQLRequestError).message}</span>}
    </div>
  );
}

function ProgressPanel({ run, live, status }: { run: RunDetailFragment; live: LiveState; status: string }) {
  const running = status === 'RUNNING' || status === 'CANCELLING';
  const now = useNow(running ? 1000 : 0);
  const percent = live.progressPercent ?? run.progressPercent ?? 0;
  const started = run.startedAt ? Date.parse(run.startedAt) : undefined;
  const ended = run.finishedAt ? Date.parse(run.finishedAt) : undefined;
  const elapsed = started === undefined ? undefined : (ended ?? now) - started;
  const done = live.completedItems;
  const total = live.totalItems;
  return (
    <section className="card" aria-labelledby="progress-heading">
      <h2 id="progress-heading" className="visually-hidden">
        Progress
      </h2>
      <div
        className="progress"
        role="progressbar"
        aria-label="Run progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(percent * 100) / 100}
        aria-valuetext={`${formatPercent(percent)}${live.stage ? `, ${live.stage}` : ''}`}
      >
        <div className={`progress-fill status-${status.toLowerCase()}`} style={{ width: `${Math.min(100, Math.max(0, percent))}%` }} />
      </div>
      <dl className="facts">
        <Fact name="Status">
          <span className={`badge status-${status.toLowerCase()}`} data-testid="run-status">
            {statusLabel(status)}
          </span>
        </Fact>
        <Fact name="Progress">{formatPercent(percent)}</Fact>
        <Fact name="Stage">{live.stage ?? run.stage ?? '–'}</Fact>
        <Fact name="Current item">{live.currentItem ?? '–'}</Fact>
        <Fact name="Done">{done != null ? `${done} of ${total ?? '?'}` : '–'}</Fact>
        <Fact name="Rate">{live.rate != null ? `${live.rate} ${live.rateUnit ?? 'items'}/s` : '–'}</Fact>
        <Fact name="ETA">{running && live.eta ? live.eta : '–'}</Fact>
        <Fact name="Elapsed">{elapsed !== undefined ? formatDuration(elapsed) : '–'}</Fact>
        <Fact name="Queued at">{formatTime(run.createdAt)}</Fact>
        {run.startedBy != null && <Fact name="Started by">{run.startedBy}</Fact>}
        {status === 'QUEUED' && <Fact name="Queue position">{run.queuePosition ?? '–'}</Fact>}
        {status === 'QUEUED' && <Fact name="Waiting because">{run.waitReason ?? '–'}</Fact>}
      </dl>
      <p className="message" aria-live="off">
        {live.message ?? run.message ?? ''}
      </p>
    </section>
  );
}

function Fact({ name, children }: { name: string; children: React.ReactNode }) {
  return (
    <div className="fact">
      <dt>{name}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function StageTimeline({ live }: { live: LiveState }) {
  if (!live.stages.length) return null;
  return (
    <section className="card" aria-labelledby="stages-heading">
      <h2 id="stages-heading">Stages</h2>
      <ol className="timeline">
        {live.stages.map((stage, index) => (
          <li key={`${stage.name}-${index}`} className={stage.endedAt ? 'done' : 'current'}>
            <strong>{stage.name}</strong>{' '}
            <span className="muted">
              {stage.endedAt ? formatDuration(Date.parse(stage.endedAt) - Date.parse(stage.startedAt)) : 'in progress'}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}

function FailurePanel({ run, live }: { run: RunDetailFragment; live: LiveState }) {
  // The live status event says it first; the stored row catches up a moment later.
  const error = run.error ?? live.error;
  const exitCode = run.exitCode ?? live.exitCode;
  return (
    <section className="card failure" aria-labelledby="error-heading">
      <h2 id="error-heading">Error</h2>
      <p data-testid="run-error">
        <strong>{error?.code ?? 'FAILED'}</strong>: {error?.message ?? 'The run failed.'}
        {exitCode != null && <> (exit code {exitCode})</>}
      </p>
      {!!error?.stderrTail?.length && (
        <>
          <h3>Last lines on stderr</h3>
          <pre className="stderr" data-testid="stderr-tail" tabIndex={0}>
            {error.stderrTail.join('\n')}
          </pre>
        </>
      )}
    </section>
  );
}

/** "Run #12 completed", once, when a run watched on this page finishes. */
function useFinishNotice(number: number | undefined, status: string | undefined): string | undefined {
  const sawActive = useRef(false);
  const [notice, setNotice] = useState<string>();
  useEffect(() => {
    if (!status) return;
    if (!isTerminal(status)) sawActive.current = true;
    else if (sawActive.current) {
      sawActive.current = false;
      setNotice(`Run #${number ?? ''} ${status.toLowerCase()}.`);
    }
  }, [status, number]);
  return notice;
}

