import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Ties a strategy's process to the server's life: the kernel sends it SIGKILL when the server
 * dies, however it dies (SIGKILL and OOM included), through `setpriv --pdeathsig KILL`, which
 * sets the flag and then execs the command (same pid, same process group, no shell). A graceful
 * stop is unaffected: the server waits for its children before it exits. Grandchildren are the
 * process reaper's job (the flag reaches only the direct child).
 */

let setprivPath: string | null | undefined;

/** `setpriv` when it exists and knows `--pdeathsig` (util-linux 2.33+); null elsewhere. */
export function findSetpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  const found = findExecutable('setpriv', process.cwd(), process.env.PATH ?? '');
  if (found) {
    try {
      const help = execFileSync(found, ['--help'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
      if (help.includes('--pdeathsig')) setprivPath = found;
    } catch {
      /* unusable: run children without the flag */
    }
  }
  return setprivPath;
}

/**
 * The argv to spawn for `file args…`: wrapped in `setpriv --pdeathsig KILL --` when possible.
 * A program that cannot be found is left unwrapped, so that spawning it fails as before
 * (SPAWN_FAILED) instead of becoming setpriv's exit code.
 */
export function withParentDeathSignal(
  file: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string>,
): { file: string; args: string[] } {
  const setpriv = findSetpriv();
  if (!setpriv || !findExecutable(file, cwd, env.PATH ?? '')) return { file, args: [...args] };
  return { file: setpriv, args: ['--pdeathsig', 'KILL', '--', file, ...args] };
}

/** Where `execvp` would find `file` (a path with a slash is taken relative to `cwd`). */
export function findExecutable(file: string, cwd: string, searchPath: string): string | undefined {
  const candidates = file.includes('/')
    ? [path.resolve(cwd, file)]
    : searchPath.split(':').filter(Boolean).map((dir) => path.join(path.resolve(cwd, dir), file));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}
