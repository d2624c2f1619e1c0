import net from 'node:net';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ROOT } from './server.js';

export const CLI_BIN = path.join(ROOT, 'bin/strategy-runner.js');

export interface CliResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** The CLI as a real subprocess (`node bin/strategy-runner.js …`), no shell. */
export function startCli(args: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false; timeout: number; stripFinalNewline: false }> {
  return execa('node', [CLI_BIN, ...args], {
    cwd: ROOT,
    env: { STRATEGY_RUNNER_URL: '', STRATEGY_RUNNER_TOKEN: '', ...env },
    reject: false,
    timeout: 60_000,
    // The exact output, final newline included.
    stripFinalNewline: false,
  });
}

export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const result = await startCli(args, env);
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/**
 * A TCP proxy in front of the server that can cut every open connection at once (a dropped
 * network), and that records the bytes clients send (to see their headers).
 */
export interface CuttingProxy {
  readonly url: string;
  /** Everything clients sent, as text. */
  sent(): string;
  /** Destroys every open connection (both sides); new connections still work. */
  cut(): number;
  close(): Promise<void>;
}

export async function startCuttingProxy(targetUrl: string): Promise<CuttingProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  let sent = '';
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      sent += chunk.toString('latin1');
    });
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sent: () => sent,
    cut: () => {
      const open = sockets.size;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      return open;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
