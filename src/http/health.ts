import type { FastifyInstance } from 'fastify';

/**
 * Liveness and readiness for load balancers and orchestrators. Both stay open without a token
 * and are not request-logged (probes would drown the log).
 *
 * - `/healthz`: the process answers.
 * - `/readyz`: send it work. 503 as soon as the server drains after SIGTERM (so traffic moves
 *   elsewhere before the port closes) and while the database is unreachable.
 */
export interface Readiness {
  /** True once the server has begun to stop. */
  draining(): boolean;
  /** Rejects when the database cannot answer. */
  pingDatabase(): Promise<void>;
  readonly databaseKind: string;
}

export const HEALTH_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

export async function healthRoutes(app: FastifyInstance, readiness: Readiness): Promise<void> {
  app.get('/healthz', { logLevel: 'silent' }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'silent' }, async (_request, reply) => {
    if (readiness.draining()) return reply.code(503).send({ status: 'unavailable', reason: 'shutting down' });
    try {
      await readiness.pingDatabase();
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'database unreachable' });
    }
    return { status: 'ready', database: readiness.databaseKind };
  });
}
