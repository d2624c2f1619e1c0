import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { withParentDeathSignal } from './parent-death.js';
import { PACKAGE_ROOT } from '../package-root.js';

/**
 * Starting and stopping strategy processes. No shell is ever involved: `command` is an argv
 * array. Each child leads its own process group so that a stop reaches its grandchildren too
 * (STACK.md pitfall 3), and it sees only an allow-listed environment: no database or Redis
 * URLs, no tokens, nothing the server was given in confidence.
 */

/** Variables a script legitimately needs; everything else stays with the server. */
const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TEMP', 'TMP', 'PYTHONPATH', 'VIRTUAL_ENV'];

/**
 * A folder holding nothing but the bundled `progress_reporter.py` (a link to the one in
 * `strategies/`, which stays a single file authors may copy). It goes on every child's
 * PYTHONPATH so a strategy in any folder can `import progress_reporter`; being alone in its
 * folder, it cannot shadow a user's own modules the way `strategies/` (params, screener…) would.
 */
export const REPORTER_PYTHONPATH = path.join(PACKAGE_ROOT, 'lib/python');

export function childEnvironment(extra: Record<string, string>, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && (INHERITED_ENV.includes(key) || key.startsWith('LC_'))) result[key] = value;
  }
  // Scripts must flush progress line by line even when Python buffers pipes.
  result.PYTHONUNBUFFERED = '1';
  // The user's own PYTHONPATH first: a reporter they vendored or changed wins over ours.
  result.PYTHONPATH = [...(result.PYTHONPATH ?? '').split(path.delimiter).filter(Boolean), REPORTER_PYTHONPATH].join(path.delimiter);
  return { ...result, ...extra };
}

export type StrategyProcess = ResultPromise<{ buffer: false; reject: false; encoding: 'buffer' }>;

export function spawnStrategyProcess(options: {
  command: readonly string[];
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
}): StrategyProcess {
  const [program, ...baseArgs] = options.command;
  // The kernel kills the child if the server dies first (a graceful stop waits for it anyway).
  const { file, args } = withParentDeathSignal(program!, [...baseArgs, ...options.args], options.cwd, options.env);
  return execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    detached: true,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    encoding: 'buffer',
    // We stop the whole group ourselves; execa's own cleanup only reaches the direct child.
    cleanup: false,
    shell: false,
  }) as StrategyProcess;
}

/** Sends `signal` to every process in the group led by `pid`; false if none is left. */
export function signalProcessGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of the group led by `pid` is still alive. */
export function processGroupAlive(pid: number): boolean {
  return signalProcessGroup(pid, 0 as unknown as NodeJS.Signals);
}

/** Whether a single process exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM to the group, then SIGKILL after `graceMs` if anything is left. */
export async function terminateProcessGroup(pid: number, graceMs: number): Promise<void> {
  if (!signalProcessGroup(pid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (!processGroupAlive(pid)) return;
  }
  signalProcessGroup(pid, 'SIGKILL');
}
