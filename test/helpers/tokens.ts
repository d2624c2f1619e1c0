import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './server.js';

const run = promisify(execFile);

/** `npm run token -- ARGS` as an operator types it (the real CLI, a real process), against `databaseUrl`. */
export async function tokenCli(databaseUrl: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/auth/token-cli.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

/** Creates a token and returns it (the CLI prints it alone on its last line). */
export async function createToken(databaseUrl: string, name: string, role: string): Promise<string> {
  const { stdout, stderr, code } = await tokenCli(databaseUrl, ['create', '--name', name, '--role', role]);
  if (code !== 0) throw new Error(`token create failed: ${stderr}`);
  return stdout.trim().split('\n').at(-1)!;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
