import net from 'node:net';
import { execa, type ResultPromise } from 'execa';

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILLs the server (nothing is kept on disk). */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A `redis-server` of the test's own on a free port, that the test may kill and restart (the
 * machine's shared Redis is never touched).
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ResultPromise | undefined;
  const start = async () => {
    child = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      reject: false,
      stdio: 'ignore',
    });
    await waitForPort(port);
  };
  const kill = async () => {
    if (!child) return;
    child.kill('SIGKILL');
    await child;
    child = undefined;
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, restart: start, close: kill };
}
