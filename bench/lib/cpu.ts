import { readFileSync } from 'node:fs';
import pg from 'pg';

/**
 * CPU time per party, so the reading can say what a run costs besides wall time:
 *  - children: CPU of child processes this process has reaped (/proc/self/stat cutime+cstime).
 *    The service runs in this process, so its strategy children count here, as do CLI runs.
 *  - node: this process itself (server and bench clients together), process.cpuUsage().
 *  - postgres: the backends connected to the bench database (pg_stat_activity + /proc).
 *    A backend that exits between two snapshots is lost, so this is a lower bound.
 */
export interface CpuSnapshot {
  childrenMs: number;
  nodeMs: number;
  postgres: Map<number, number>;
}

export interface CpuDelta {
  childrenMs: number;
  nodeMs: number;
  postgresMs: number;
}

const TICK_MS = 10; // CLK_TCK is 100 on Linux

function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export class CpuMeter {
  private constructor(private readonly db: pg.Client, private readonly databaseName: string) {}

  static async open(databaseUrl: string, databaseName: string): Promise<CpuMeter> {
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    return new CpuMeter(db, databaseName);
  }

  async snapshot(): Promise<CpuSnapshot> {
    const { rows } = await this.db.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [this.databaseName],
    );
    const postgres = new Map<number, number>();
    for (const { pid } of rows) {
      const f = statFields(pid);
      if (f) postgres.set(pid, (Number(f[11]) + Number(f[12])) * TICK_MS);
    }
    const self = statFields('self');
    const usage = process.cpuUsage();
    return {
      childrenMs: self ? (Number(self[13]) + Number(self[14])) * TICK_MS : Number.NaN,
      nodeMs: (usage.user + usage.system) / 1000,
      postgres,
    };
  }

  static delta(before: CpuSnapshot, after: CpuSnapshot): CpuDelta {
    let postgresMs = 0;
    for (const [pid, ms] of after.postgres) postgresMs += ms - (before.postgres.get(pid) ?? 0);
    return { childrenMs: after.childrenMs - before.childrenMs, nodeMs: after.nodeMs - before.nodeMs, postgresMs };
  }

  close(): Promise<void> {
    return this.db.end();
  }
}
