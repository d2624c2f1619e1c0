import type { FastifyInstance } from 'fastify';
import type { MetricsRegistry } from '../observability/metrics.js';

/**
 * `GET /metrics` (CONTRACT §8): the Prometheus text exposition. Like every route but the health
 * probes it takes the same `Authorization: Bearer` token as the API once access control is on.
 * Scrapes are logged only when something goes wrong (a scrape every 15 s says nothing).
 */
export async function metricsRoute(app: FastifyInstance, { metrics }: { metrics: MetricsRegistry }): Promise<void> {
  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
    const { contentType, body } = await metrics.scrape();
    return reply.type(contentType).header('cache-control', 'no-store').send(body);
  });
}
