import { Command, CommanderError, Option } from 'commander';
import { ApiClient, type Connection, type RunStatusView } from './api-client.js';
import { CliError, EXIT } from './cli-error.js';
import { followRun, type WatchedEvent } from './follow-run.js';
import { createView } from './progress-view.js';
import { parseSetValues } from './set-values.js';

/**
 * `strategy-runner`: start, watch and manage runs from a terminal (CONTRACT §8). A client of
 * the HTTP API only: REST for requests, GraphQL over SSE to follow a run.
 */

const DEFAULT_URL = 'http://127.0.0.1:4000';

// Output piped into `head` and the like: the reader left, so stop quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
}

const program = new Command('strategy-runner')
  .description('Start, watch and manage strategy runs on a strategy-runner server.')
  .addOption(new Option('--url <url>', 'server URL').env('STRATEGY_RUNNER_URL').default(DEFAULT_URL))
  // Never shown: not in help's defaults, never in an error message.
  .addOption(new Option('--token <token>', 'API token, sent as Authorization: Bearer').env('STRATEGY_RUNNER_TOKEN'))
  .option('--json', 'machine-readable output (JSON; one object per line when following a run)')
  .showHelpAfterError()
  .exitOverride();

function connectionOf(command: Command): { connection: Connection; api: ApiClient; json: boolean } {
  const options = command.optsWithGlobals<GlobalOptions>();
  let url: URL;
  try {
    url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new CliError(`--url "${options.url}" is not an http(s) URL`);
  }
  const connection = { url: url.toString().replace(/\/$/, ''), token: options.token || undefined };
  return { connection, api: new ApiClient(connection), json: Boolean(options.json) };
}

const print = (text: string): void => void process.stdout.write(`${text}\n`);

program
  .command('strategies')
  .description('list the registered strategies and their parameters')
  .action(async (_options, command: Command) => {
    const { api, json } = connectionOf(command);
    const strategies = await api.strategies();
    if (json) return print(JSON.stringify(strategies, null, 2));
    for (const strategy of strategies) {
      print(`${strategy.name}\n  ${strategy.description}`);
      const properties = (strategy.parameters_schema.properties ?? {}) as Record<string, { type?: unknown; default?: unknown }>;
      for (const [name, schema] of Object.entries(properties)) {
        const type = [schema.type ?? 'any'].flat().join('|');
        print(`    --set ${name}=<${type}>${schema.default !== undefined ? `  (default ${JSON.stringify(schema.default)})` : ''}`);
      }
    }
  });

program
  .command('run')
  .description('queue a run of a strategy')
  .argument('<name>', 'strategy name')
  .option('--set <key=value>', 'a parameter; repeat for more (lists as a,b,c)', (value: string, previous: string[]) => [...previous, value], [] as string[])
  .option('--watch', 'follow the run to its end (exit 0 completed, 1 failed, 130 cancelled)')
  .option('--idempotency-key <key>', 'retry safely: the same key within 24 h returns the same run')
  .action(async (name: string, options: { set: string[]; watch?: boolean; idempotencyKey?: string }, command: Command) => {
    const { api, connection, json } = connectionOf(command);
    const strategies = await api.strategies();
    const strategy = strategies.find((s) => s.name === name);
    if (!strategy) {
      throw new CliError(`Unknown strategy "${name}". Registered: ${strategies.map((s) => s.name).join(', ') || '(none)'}`);
    }
    const parameters = parseSetValues(name, options.set, strategy.parameters_schema);
    const answer = await api.execute(name, parameters, options.idempotencyKey);
    if (json) print(JSON.stringify(answer));
    else print(`Queued run ${answer.run_id} (${name})${options.watch ? '' : `; follow it with: strategy-runner watch ${answer.run_id}`}`);
    if (options.watch) process.exitCode = await watch(connection, answer.run_id, json);
  });

program
  .command('watch')
  .description('follow a run live to its end (exit 0 completed, 1 failed, 130 cancelled)')
  .argument('<run_id>')
  .action(async (runId: string, _options, command: Command) => {
    const { connection, json } = connectionOf(command);
    process.exitCode = await watch(connection, runId, json);
  });

program
  .command('runs')
  .description('list runs, newest first')
  .option('--status <statuses>', 'comma-separated: queued,running,cancelling,completed,failed,cancelled')
  .option('--strategy <name>', 'only this strategy')
  .option('--limit <n>', 'at most this many (1-100)', (value) => {
    if (!/^\d+$/.test(value)) throw new CliError(`--limit: expected a whole number, got "${value}"`);
    return Number(value);
  })
  .action(async (options: { status?: string; strategy?: string; limit?: number }, command: Command) => {
    const { api, json } = connectionOf(command);
    const page = await api.runs(options);
    if (json) return print(JSON.stringify(page, null, 2));
    if (page.runs.length === 0) return print('No runs.');
    print(['RUN ID'.padEnd(36), 'STRATEGY'.padEnd(20), 'STATUS'.padEnd(10), 'PROGRESS', 'CREATED'].join('  '));
    for (const run of page.runs) print(runRow(run));
  });

program
  .command('logs')
  .description('print a run’s log lines (stderr and log events)')
  .argument('<run_id>')
  .option('-f, --follow', 'keep printing new lines until the run ends')
  .action(async (runId: string, options: { follow?: boolean }, command: Command) => {
    const { api, connection, json } = connectionOf(command);
    const show = (event: { event_type?: string; eventType?: string; level?: unknown; message?: unknown; timestamp?: unknown }) => {
      const type = (event.event_type ?? event.eventType ?? '').toLowerCase();
      if (type !== 'log' && type !== 'error') return;
      print(json ? JSON.stringify(event) : `${String(event.timestamp)} ${String(event.level ?? 'info').padEnd(7)} ${String(event.message ?? '')}`);
    };
    let last = 0;
    for (;;) {
      const { events } = await api.events(runId, last, 500);
      for (const event of events) show(event);
      last = events.at(-1)?.seq ?? last;
      if (events.length < 500) break;
    }
    if (!options.follow) return;
    // Everything stored so far is printed: follow what comes after it.
    await followRun(connection, runId, {
      afterSeq: last,
      onEvent: (event: WatchedEvent) => show(event),
      onReconnect: (seq) => process.stderr.write(`connection lost; resuming after event ${seq}\n`),
    });
  });

program
  .command('cancel')
  .description('cancel a queued or running run')
  .argument('<run_id>')
  .action(async (runId: string, _options, command: Command) => {
    const { api, json } = connectionOf(command);
    const run = await api.cancel(runId);
    print(json ? JSON.stringify(run) : `Run ${run.run_id}: ${run.status}`);
  });

/** Follows the run and shows it; the exit code is its outcome. */
async function watch(connection: Connection, runId: string, json: boolean): Promise<number> {
  const view = createView(json ? 'json' : process.stdout.isTTY ? 'tty' : 'plain', process.stdout, process.stderr);
  // Ctrl-C stops watching (the run goes on): the shell's 130.
  process.once('SIGINT', () => {
    process.stderr.write(`\nStopped watching; the run goes on (strategy-runner watch ${runId}).\n`);
    process.exit(EXIT.cancelled);
  });
  const status = await followRun(connection, runId, {
    onEvent: (event) => view.event(event),
    onReconnect: (seq, attempt) => view.note(`connection lost; resuming after event ${seq} (attempt ${attempt})`),
  });
  view.end(status);
  if (!json) await summary(connection, runId, status);
  return status === 'COMPLETED' ? EXIT.completed : status === 'CANCELLED' ? EXIT.cancelled : EXIT.failed;
}

/** The outcome in a sentence (and why a failed run failed), after the live view. */
async function summary(connection: Connection, runId: string, status: string): Promise<void> {
  const run = await new ApiClient(connection).status(runId).catch(() => undefined);
  const took = run?.started_at && run.finished_at ? ` in ${((Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000).toFixed(1)} s` : '';
  if (status === 'COMPLETED') print(`Run ${runId} completed${took}.`);
  else if (status === 'CANCELLED') print(`Run ${runId} was cancelled${took}.`);
  else {
    print(`Run ${runId} failed${took}: ${run?.error ? `${run.error.code}: ${run.error.message}` : 'see its logs'}`);
    for (const line of run?.error?.stderr_tail.slice(-5) ?? []) print(`  | ${line}`);
  }
}

function runRow(run: RunStatusView): string {
  const progress = run.progress_percent === null ? '-' : `${run.progress_percent.toFixed(1)}%`;
  return [run.run_id.padEnd(36), run.strategy.padEnd(20), run.status.padEnd(10), progress.padStart(8), run.created_at].join('  ');
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version end well; a usage mistake has already been printed by commander.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT.refused;
  } else if (error instanceof CliError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    // Unexpected: one line, no stack trace (the server's answers never carry one either).
    process.stderr.write(`error: ${(error as Error)?.message ?? String(error)}\n`);
    process.exitCode = EXIT.unreachable;
  }
}
