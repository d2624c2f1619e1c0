import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PACKAGE_ROOT } from '../package-root.js';

/**
 * The web dashboard (built from `web/` into `web/dist` by `npm install`): content-hashed files
 * under `/assets/` cached for a year as immutable (pre-compressed copies sent when the browser
 * takes them), and `index.html` for `/` and for every other page path a browser navigates to
 * (`/runs`, `/runs/{id}`, …) so deep links work on reload. `index.html` is never cached, so a
 * new build reaches the next page load.
 *
 * The API keeps its own answers: paths under the API's prefixes, requests that do not ask for
 * HTML, and paths that look like files fall through to the server's JSON 404.
 */

export interface WebAppOptions {
  /** Folder of the built dashboard. @default web/dist of this checkout */
  root?: string;
}

// From the package's folder: the same whether this runs from the sources or from the build.
const DEFAULT_ROOT = path.join(PACKAGE_ROOT, 'web/dist');

/** Never the dashboard, whatever the browser asks for. */
const API_PREFIXES = ['/api', '/graphql', '/healthz', '/readyz', '/metrics', '/assets'];

export async function webApp(app: FastifyInstance, options: WebAppOptions): Promise<void> {
  const root = options.root ?? DEFAULT_ROOT;
  const indexFile = path.join(root, 'index.html');
  const built = existsSync(indexFile);

  if (built) {
    await app.register(fastifyStatic, {
      root: path.join(root, 'assets'),
      prefix: '/assets/',
      decorateReply: false,
      index: false,
      preCompressed: true,
      cacheControl: true,
      immutable: true,
      maxAge: '365d',
      logLevel: 'warn',
    });
  }
  const html = built ? readFileSync(indexFile) : undefined;
  const etag = html ? `"${createHash('sha256').update(html).digest('base64url').slice(0, 27)}"` : undefined;

  const sendIndex = (request: FastifyRequest, reply: FastifyReply) => {
    if (!html) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .send('The dashboard is not built. Run `npm run build:web` (npm install does it), then restart the server.\n');
    }
    reply.header('cache-control', 'no-cache').header('etag', etag!);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('text/html; charset=utf-8').send(html);
  };

  app.get('/', { schema: { hide: true } }, sendIndex);
  app.get('/*', { schema: { hide: true } }, (request, reply) => {
    const url = request.url.split('?', 1)[0]!;
    const isApi = API_PREFIXES.some((prefix) => url === prefix || url.startsWith(`${prefix}/`));
    const looksLikeFile = /\.[a-z0-9]+$/i.test(url);
    const wantsHtml = (request.headers.accept ?? '').includes('text/html');
    if (isApi || looksLikeFile || !wantsHtml) return reply.callNotFound();
    return sendIndex(request, reply);
  });
}
