import { getOperationAST, type ExecutionResult } from 'graphql';
import { createHandler } from 'graphql-sse/lib/use/fetch';
import type { Plugin } from 'graphql-yoga';

/**
 * GraphQL over SSE (both modes) at `endpoint`, so the `graphql-sse` client works unchanged.
 *
 * The same wiring as `@graphql-yoga/plugin-graphql-sse`, with one fix: graphql-sse only
 * recognises an execution result that has a `data` key, while a subscription that fails before
 * it starts (unknown run, invalid query) yields `{ errors }` alone. The published plugin then
 * answers a bare 400 "Unable to detect operation AST" and the coded error is lost; here the
 * client receives the error itself (with its `extensions.code`) as the operation's payload.
 */
export function useGraphQLSSE({ endpoint = '/graphql/stream' }: { endpoint?: string } = {}): Plugin {
  const serverContextOf = new WeakMap<Request, Record<string, unknown>>();
  let handler: (request: Request) => Promise<Response>;
  return {
    onYogaInit({ yoga }) {
      handler = createHandler(
        {
          async onSubscribe(req, params) {
            const enveloped = yoga.getEnveloped({
              ...serverContextOf.get(req.raw),
              request: req.raw,
              params,
            } as never);
            let document;
            try {
              document = enveloped.parse(params.query);
            } catch (error) {
              return withData({ errors: [error as never] });
            }
            const errors = enveloped.validate(enveloped.schema, document);
            if (errors.length > 0) return withData({ errors });
            const contextValue = await enveloped.contextFactory();
            const operation = getOperationAST(document, params.operationName);
            const run = operation?.operation === 'subscription' ? enveloped.subscribe : enveloped.execute;
            const result = await run({
              schema: enveloped.schema,
              document,
              contextValue,
              variableValues: params.variables,
              operationName: params.operationName,
            });
            return Symbol.asyncIterator in result ? result : withData(result as ExecutionResult);
          },
        },
        yoga.fetchAPI,
      );
    },
    onRequest({ request, endResponse, serverContext }) {
      if (request.url.split('?')[0]?.endsWith(endpoint)) {
        // The HTTP edge has already refused a body over the limit (413).
        serverContextOf.set(request, serverContext as Record<string, unknown>);
        return handler(request).then(endResponse);
      }
    },
  };
}

function withData(result: ExecutionResult): ExecutionResult {
  return 'data' in result ? result : { data: null, ...result };
}
