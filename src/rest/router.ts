import type http from 'node:http';
import type { AppContext } from '../resolvers/context.js';

/** Placeholder until the REST layer lands: every /api route answers 404 in the pinned shape. */
export function createRestHandler(_ctx: AppContext) {
  return async (_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'No such route' } }));
  };
}
