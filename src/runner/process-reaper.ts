import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../logger.js';

/**
 * Kills the process groups of this server's runs when the server dies without stopping them
 * (SIGKILL, OOM, a crash): a strategy's grandchildren are out of reach of the parent-death
 * signal, and a detached group would otherwise run on as an orphan until another instance
 * noticed. A small watcher process (Node, no extra files) holds one end of a pipe: the server
 * tells it which groups are running, and when the pipe closes without a goodbye (the kernel
 * closes it when the server dies) it SIGKILLs every group still listed.
 */

// Runs as `node -e`: only the watcher's own standard library, nothing of ours.
const WATCHER_SOURCE = `
const groups = new Set();
let buffer = '';
let goodbye = false;
const reap = () => {
  if (!goodbye) for (const pgid of groups) { try { process.kill(-pgid, 'SIGKILL'); } catch {} }
  process.exit(0);
};
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  let newline;
  while ((newline = buffer.indexOf('\\n')) >= 0) {
    const line = buffer.slice(0, newline);
    buffer = buffer.slice(newline + 1);
    const pgid = Number(line.slice(1));
    if (line === 'bye') goodbye = true;
    else if (line[0] === '+' && pgid > 1) groups.add(pgid);
    else if (line[0] === '-') groups.delete(pgid);
  }
});
process.stdin.on('end', reap);
process.stdin.on('error', reap);
for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM']) process.on(signal, () => {});
`;

export class ProcessReaper {
  private constructor(
    private readonly watcher: ChildProcess,
    private readonly log: Logger,
  ) {}

  /** Starts the watcher; it never keeps the server's event loop alive. */
  static start(log: Logger): ProcessReaper {
    const watcher = spawn(process.execPath, ['-e', WATCHER_SOURCE], {
      // Its own process group: a Ctrl-C meant for the server must not end the watcher first.
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env.PATH ?? '' },
    });
    watcher.on('error', (err) => log.warn({ err }, 'process reaper could not start; orphans are left to recovery'));
    watcher.stdin?.on('error', () => {});
    watcher.unref();
    (watcher.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return new ProcessReaper(watcher, log);
  }

  /** The group led by `pgid` belongs to a run of this server. */
  watch(pgid: number): void {
    this.send(`+${pgid}`);
  }

  /** The group is gone (or stopped by the server itself). */
  forget(pgid: number): void {
    this.send(`-${pgid}`);
  }

  /** A graceful stop: the watcher exits without killing anything. */
  close(): void {
    if (!this.watcher.stdin || this.watcher.stdin.destroyed) return;
    this.send('bye');
    this.watcher.stdin.end();
  }

  private send(line: string): void {
    const stdin = this.watcher.stdin;
    if (!stdin || stdin.destroyed || !stdin.writable) return;
    stdin.write(`${line}\n`, (err) => {
      if (err) this.log.warn({ err }, 'process reaper unreachable');
    });
  }
}
