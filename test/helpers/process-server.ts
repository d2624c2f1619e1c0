import { execa, type ResultPromise } from 'execa';
import { ROOT } from './server.js';

export interface ServerProcess {
  readonly child: ResultPromise;
  readonly url: string;
  /** Everything the process wrote so far. */
  output(): string;
}

/**
 * The service as its own OS process (`node --import tsx src/index.ts`, what `npm start` runs),
 * for tests that kill or restart it. Resolves once it logs that it is serving.
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  const child = execa('node', ['--import', 'tsx', 'src/index.ts'], {
    cwd: ROOT,
    env: { PORT: '0', LOG_LEVEL: 'info', ...env },
    reject: false,
    all: true,
    buffer: false,
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${output}`)), timeoutMs);
    child.all!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:[^"]+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void child.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before serving:\n${output}`));
    });
  });
  return { child, url, output: () => output };
}
