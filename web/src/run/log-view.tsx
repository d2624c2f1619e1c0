import { useCallback, useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from 'react';
import { request } from '../api/graphql-client.js';
import { RunEventsPageDocument } from '../gql/graphql.js';
import { AnsiText } from './ansi-text.js';
import { saveFile } from './save-file.js';
import type { EventPageReader, LineKind, LogLine, RunEventStore } from './run-event-store.js';

/**
 * The run's log: every line in a virtualized list (only the rows in view are in the page),
 * opening at the tail and following it while the reader stays at the bottom; scrolled up, a
 * button counts the lines that arrived since. Level filter, text search, a permalink per
 * line (`?line=SEQ`) and a download of the whole log. Scrolled to the top of what is in
 * memory, the lines before it are paged in from storage, and the reader keeps their place.
 *
 * Rows have one fixed height, so the window of rows in view is plain arithmetic on the scroll
 * position: O(rows in view) per frame. (@tanstack/react-virtual rebuilds a measurement object
 * per item whenever the count changes, i.e. on every batch of a live run: 100,000 objects per
 * frame at the log's limit.)
 */

const ROW_HEIGHT = 20;
const OVERSCAN = 20;
const MAX_HEIGHT = 420;
const MIN_HEIGHT = 120;

type Filter = 'all' | 'logs' | 'problems' | 'progress';

const FILTERS: Record<Filter, { label: string; kinds: ReadonlySet<LineKind> | undefined }> = {
  all: { label: 'All lines', kinds: undefined },
  logs: { label: 'Script output', kinds: new Set<LineKind>(['info', 'warning', 'error', 'debug']) },
  problems: { label: 'Warnings and errors', kinds: new Set<LineKind>(['warning', 'error']) },
  progress: { label: 'Progress and status', kinds: new Set<LineKind>(['progress', 'status', 'result']) },
};

interface Props {
  store: RunEventStore;
  /** seq of a line to scroll to and mark (from the URL). */
  highlight?: number;
  onPermalink(seq: number): void;
}

export default function LogView({ store, highlight, onPermalink }: Props) {
  const version = useSyncExternalStore(store.subscribe, store.getVersion);
  const [filter, setFilter] = useState<Filter>('all');
  const [search, setSearch] = useState('');
  const lines = useFilteredLines(store, version, filter, search);

  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(highlight === undefined);
  const [unseen, setUnseen] = useState(0);
  const countWhenUnpinned = useRef(0);

  const [view, setView] = useState({ top: 0, height: MAX_HEIGHT });
  const first = Math.max(0, Math.floor(view.top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(lines.length, Math.ceil((view.top + view.height) / ROW_HEIGHT) + OVERSCAN);

  const scrollToEnd = useCallback(() => {
    const element = scroller.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, []);

  /** The line at the top of the view (set on scroll). */
  const anchor = useRef<{ seq: number; offset: number }>(undefined);
  // When the front of the window changes (older lines paged in above, or lines trimmed), the
  // line at the top of the view stays where it was, and the count of new lines stays true.
  // Declared before the tail-following effect, which reads `countWhenUnpinned`.
  const frontEpoch = store.frontEpoch;
  const unseenNow = useRef(0);
  unseenNow.current = unseen;
  useLayoutEffect(() => {
    const element = scroller.current;
    const at = anchor.current;
    if (!element || !at || pinned.current) return;
    element.scrollTop = indexOfSeq(lines, at.seq) * ROW_HEIGHT + at.offset;
    countWhenUnpinned.current = lines.length - unseenNow.current;
  }, [frontEpoch]); // `lines` changes with it; nothing else should move the reader

  // Follow the tail while pinned; otherwise count what arrived below.
  useLayoutEffect(() => {
    if (pinned.current) scrollToEnd();
    else setUnseen(Math.max(0, lines.length - countWhenUnpinned.current));
  }, [lines.length, scrollToEnd]);

  // A permalink opens at its line.
  const jumped = useRef(false);
  useEffect(() => {
    const element = scroller.current;
    if (highlight === undefined || jumped.current || !element) return;
    const index = lines.findIndex((line) => line.seq === highlight);
    if (index >= 0) {
      jumped.current = true;
      element.scrollTop = Math.max(0, index * ROW_HEIGHT - element.clientHeight / 2);
    }
  }, [highlight, lines, version]);

  // A permalink opens away from the tail: the window must not slide under it.
  useEffect(() => store.setFollowing(pinned.current), [store]);

  const readPages = useRef<EventPageReader>(undefined);
  readPages.current ??= eventPages(store.runId);

  const onScroll = () => {
    const element = scroller.current;
    if (!element) return;
    setView({ top: element.scrollTop, height: element.clientHeight });
    const atBottom = element.scrollTop + element.clientHeight >= element.scrollHeight - ROW_HEIGHT * 1.5;
    if (atBottom && !pinned.current) {
      pinned.current = true;
      setUnseen(0);
      store.setFollowing(true);
    } else if (!atBottom && pinned.current) {
      pinned.current = false;
      countWhenUnpinned.current = lines.length;
      store.setFollowing(false);
    }
    const top = lines[Math.floor(element.scrollTop / ROW_HEIGHT)];
    anchor.current = top ? { seq: top.seq, offset: element.scrollTop % ROW_HEIGHT } : undefined;
    if (!pinned.current && store.hasOlder && element.scrollTop < ROW_HEIGHT * LOAD_OLDER_WITHIN_ROWS) void store.loadOlder(readPages.current!);
  };

  const total = store.lines.length;
  return (
    <section className="log-section" aria-labelledby="log-heading">
      <div className="log-toolbar">
        <h2 id="log-heading">Log</h2>
        <label>
          Show{' '}
          <select value={filter} onChange={(event) => setFilter(event.target.value as Filter)}>
            {Object.entries(FILTERS).map(([value, { label }]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search <input type="search" value={search} onChange={(event) => setSearch(event.target.value)} placeholder="text in a line" />
        </label>
        <span className="muted" data-testid="log-count">
          {lines.length === total ? `${total} lines` : `${lines.length} of ${total} lines`}
        </span>
        {store.hasOlder && (
          <span className="muted" data-testid="log-older" role="status">
            {store.isLoadingOlder ? 'Loading older lines…' : `${store.droppedLines} older lines: scroll up to load them`}
          </span>
        )}
        <button type="button" onClick={() => void downloadLog(store, readPages.current!)}>
          Download log
        </button>
      </div>
      <div className="log-frame">
        <div
          ref={scroller}
          className="log"
          role="log"
          aria-label="Run log"
          tabIndex={0}
          onScroll={onScroll}
          // Grows with a short log, up to its full height.
          style={{ height: Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, lines.length * ROW_HEIGHT + 16)) }}
        >
          <div className="log-inner" style={{ height: lines.length * ROW_HEIGHT }}>
            {lines.slice(first, last).map((line, offset) => {
              return (
                <div
                  key={line.seq}
                  className={`log-line kind-${line.kind}${line.seq === highlight ? ' highlighted' : ''}`}
                  data-seq={line.seq}
                  style={{ transform: `translateY(${(first + offset) * ROW_HEIGHT}px)` }}
                >
                  <a
                    className="log-seq"
                    href={`?line=${line.seq}`}
                    aria-label={`Link to line ${line.seq}`}
                    onClick={(event) => {
                      event.preventDefault();
                      onPermalink(line.seq);
                    }}
                  >
                    {line.seq}
                  </a>
                  <span className="log-time">{line.timestamp.slice(11, 23)}</span>
                  <span className="log-kind">{line.kind}</span>
                  <span className="log-text">
                    <AnsiText text={line.text} />
                  </span>
                </div>
              );
            })}
          </div>
        </div>
        {unseen > 0 && (
          <button
            type="button"
            className="new-lines"
            onClick={() => {
              pinned.current = true;
              store.setFollowing(true);
              setUnseen(0);
              scrollToEnd();
            }}
          >
            {unseen} new {unseen === 1 ? 'line' : 'lines'} ↓
          </button>
        )}
      </div>
    </section>
  );
}

/** Rows from the top at which the lines before the window start loading. */
const LOAD_OLDER_WITHIN_ROWS = 10;

function eventPages(runId: string): EventPageReader {
  return async (afterSeq, first) => (await request(RunEventsPageDocument, { id: runId, afterSeq, first })).run?.events ?? [];
}

/** Filtered lines, extended incrementally as lines arrive (no full rescan per frame). */
function useFilteredLines(store: RunEventStore, version: number, filter: Filter, search: string): readonly LogLine[] {
  const cache = useRef<{ key: string; front: number; upTo: number; lines: LogLine[] }>(undefined);
  const { kinds } = FILTERS[filter];
  const needle = search.trim().toLowerCase();
  if (!kinds && !needle) return store.lines;
  const key = `${filter}\u0000${needle}`;
  let entry = cache.current;
  if (!entry || entry.key !== key || entry.front !== store.frontEpoch) {
    entry = { key, front: store.frontEpoch, upTo: 0, lines: [] };
    cache.current = entry;
  }
  if (entry.upTo < store.lines.length) {
    const next = entry.lines.slice();
    for (let i = entry.upTo; i < store.lines.length; i++) {
      const line = store.lines[i]!;
      if (kinds && !kinds.has(line.kind)) continue;
      if (needle && !line.text.toLowerCase().includes(needle)) continue;
      next.push(line);
    }
    entry.lines = next;
    entry.upTo = store.lines.length;
  }
  void version;
  return entry.lines;
}

/** Index of the line with `seq`, or of the first line after it (lines are in seq order). */
function indexOfSeq(lines: readonly LogLine[], seq: number): number {
  let low = 0;
  let high = lines.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (lines[middle]!.seq < seq) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The whole log: the lines before the window come from storage. */
async function downloadLog(store: RunEventStore, read: EventPageReader): Promise<void> {
  const lines = await store.allLines(read);
  const text = lines.map((line) => `${line.seq}\t${line.timestamp}\t${line.kind}\t${line.text}`).join('\n');
  saveFile(`run-${store.runId}.log`, text, 'text/plain');
}
