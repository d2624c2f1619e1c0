import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { type GraphiQLOptions, type Plugin, shouldRenderGraphiQL } from 'graphql-yoga';
import { graphiqlPolicy } from '../security-headers.js';

/**
 * GraphiQL for people exploring the API, served from `endpoint` to browsers. The page inlines
 * every script, style and worker (about 9 MB) because these machines, like many production
 * networks, cannot reach a CDN (STACK.md pitfall 15). Rendered and gzipped once, on first use,
 * and sent with an ETag, so a reload costs a 304 instead of 9 MB. Its content security policy
 * allows exactly the page's own inline scripts (by hash), nothing else.
 */
export function useGraphiQLPage(endpoint: string, options: GraphiQLOptions): Plugin {
  let page: { html: Uint8Array; gzipped: Uint8Array; etag: string; policy: string } | undefined;
  const build = () => {
    const text = renderGraphiQL(options);
    const html = Buffer.from(text);
    const scriptHashes = [...text.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)]
      .map((match) => match[1]!)
      .filter((script) => script.length > 0)
      .map((script) => createHash('sha256').update(script).digest('base64'));
    return {
      html,
      gzipped: gzipSync(html),
      etag: `"${createHash('sha256').update(html).digest('base64url').slice(0, 27)}"`,
      policy: graphiqlPolicy(scriptHashes),
    };
  };
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' || url.pathname.replace(/\/$/, '') !== endpoint || !shouldRenderGraphiQL(request)) return;
      page ??= build();
      const headers: Record<string, string> = {
        etag: page.etag,
        // Always revalidate (cheap: 304), so an upgrade shows at once.
        'cache-control': 'no-cache',
        vary: 'accept-encoding',
      };
      if (request.headers.get('if-none-match') === page.etag) {
        endResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
      endResponse(
        new fetchAPI.Response((gzip ? page.gzipped : page.html) as BodyInit, {
          status: 200,
          headers: {
            ...headers,
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': page.policy,
            ...(gzip ? { 'content-encoding': 'gzip' } : {}),
          },
        }),
      );
    },
  };
}
