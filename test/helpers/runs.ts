import pg from 'pg';
import { ExecuteStrategyDocument, GetRunDocument } from '../documents.js';
import type { GetRunQuery } from '../gql/graphql.js';
import { gql, waitFor } from './graphql.js';

export type RunView = NonNullable<GetRunQuery['run']>;

export async function execute(url: string, strategy: string, parameters: Record<string, unknown> = {}): Promise<RunView> {
  const response = await gql(url, ExecuteStrategyDocument, { input: { strategy, parameters } });
  if (response.errors) throw new Error(`executeStrategy failed: ${JSON.stringify(response.errors)}`);
  return response.data!.executeStrategy;
}

export async function getRun(url: string, id: string): Promise<RunView | null> {
  const response = await gql(url, GetRunDocument, { id });
  if (response.errors) throw new Error(JSON.stringify(response.errors));
  return response.data!.run;
}

export function waitForStatus(url: string, id: string, statuses: string[], timeoutMs = 30_000): Promise<RunView> {
  return waitFor(
    async () => {
      const run = await getRun(url, id);
      return run && statuses.includes(run.status) ? run : undefined;
    },
    timeoutMs,
    `run ${id} to reach ${statuses.join('/')}`,
  );
}

/** The run's events exactly as stored (the source of truth tests compare against). */
export async function storedEvents(databaseUrl: string, runId: string): Promise<Array<Record<string, unknown> & { seq: number }>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ payload: Record<string, unknown> & { seq: number } }>(
      'select payload from run_events where run_id = $1 order by seq',
      [runId],
    );
    return rows.map((row) => row.payload);
  } finally {
    await client.end();
  }
}

/** Processes (not zombies) whose process group is `pgid`. */
export async function livingProcessesInGroup(pgid: number): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const alive: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces): state is 3rd, pgrp 5th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') alive.push(Number(entry));
    } catch {
      /* the process ended while we looked */
    }
  }
  return alive;
}

/** The pid recorded on the run (waits until the process has started). */
export async function runPid(databaseUrl: string, runId: string): Promise<number> {
  return waitFor(async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number | null }>('select pid from runs where id = $1', [runId]);
      return rows[0]?.pid ?? undefined;
    } finally {
      await client.end();
    }
  }, 10_000, `run ${runId} to record its pid`);
}
