import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * Security headers on every answer (`@fastify/helmet`). The content security policy allows
 * only this origin: no inline script, no eval, no framing, no foreign connection. The web
 * dashboard is built to live within it; GraphiQL, whose page inlines everything, sends a
 * policy of its own that pins its scripts by hash (see `graphiqlPolicy`).
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  workerSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
} as const;

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: toMutable(CSP_DIRECTIVES) },
    // The API is same-origin by design (no CORS); other sites may not embed its answers.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    // The server speaks plain HTTP on loopback by default: HSTS belongs to the TLS proxy in front.
    strictTransportSecurity: false,
  });
}

/** GraphiQL's page: its inline scripts by hash, its inline styles, and editor workers from blobs. */
export function graphiqlPolicy(scriptHashes: readonly string[]): string {
  return [
    "default-src 'self'",
    `script-src ${scriptHashes.map((hash) => `'sha256-${hash}'`).join(' ')}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function toMutable(directives: typeof CSP_DIRECTIVES): Record<string, string[]> {
  return Object.fromEntries(Object.entries(directives).map(([name, values]) => [name, [...values]]));
}
