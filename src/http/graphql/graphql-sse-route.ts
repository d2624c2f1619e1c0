import type { FastifyReply, FastifyRequest } from 'fastify';
import { getOperationAST, type ExecutionResult } from 'graphql';
import { createHandler } from 'graphql-sse';
import type { YogaServerInstance } from 'graphql-yoga';
import type { RequestContext } from '../../resolvers/context.js';
import { streamMessages } from '../sse-response.js';
import { MultiplexedRunEvents } from './multiplexed-run-events.js';
import type { SharedExecutions } from './use-shared-subscription-execution.js';

type Yoga = YogaServerInstance<{ req?: FastifyRequest }, RequestContext>;

/**
 * GraphQL over SSE, both modes, so the `graphql-sse` client works unchanged: the protocol is
 * graphql-sse's own handler; the operation goes through yoga's envelop (parse, validation with
 * the limits, context, masking, logging, metrics, shared executions), as on `/graphql`.
 *
 * Why not yoga's plugin, which answers with a fetch `Response`: every message of every stream
 * then went through a web ReadableStream, a TextEncoder and a stream adapter before reaching
 * the socket, one system call each. With a hundred subscribers of a run that was most of the
 * cost of a live event, and those objects lived as long as each idle stream. Here messages are
 * written to Node's response directly, a tick's messages in one write, as the REST stream does;
 * and `runEvents` in distinct-connections mode, the hot case, is multiplexed before it gets here
 * (multiplexed-run-events.ts).
 *
 * One fix over graphql-sse alone: it only recognises an execution result that has a `data`
 * key, while a subscription that fails before it starts (unknown run, invalid query) yields
 * `{ errors }` alone, which it would answer with a bare 400 "Unable to detect operation AST";
 * here the client receives the error itself (with its `extensions.code`) as the payload.
 */
export function graphqlSseHandler(yoga: Yoga, sharing: SharedExecutions<RequestContext>): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const handler = createHandler<FastifyRequest>({
    async onSubscribe(req, params) {
      const enveloped = yoga.getEnveloped({ req: req.raw, params } as never);
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
  });

  const multiplexed = new MultiplexedRunEvents(yoga, sharing);
  return async (request, reply) => {
    if (await multiplexed.serve(request, reply)) return;
    const [body, init] = await handler({
      method: request.method,
      url: request.url,
      headers: { get: (key) => headerText(request.headers[key.toLowerCase()]) },
      // Fastify has collected the bytes (its body limit applied, JSON content types only).
      body: () => (Buffer.isBuffer(request.body) ? request.body.toString('utf8') : null),
      raw: request,
      context: undefined,
    });
    if (body === null || typeof body === 'string') {
      await reply
        .code(init.status)
        .headers(init.headers ?? {})
        .send(body ?? undefined);
      return;
    }
    // graphql-sse ends a stream whose source failed by throwing; the client sees the stream end.
    await streamMessages(reply, { status: init.status, headers: init.headers ?? {}, items: body, format: (message: string) => message }, request.log);
  };
}

function headerText(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

function withData(result: ExecutionResult): ExecutionResult {
  return 'data' in result ? result : { data: null, ...result };
}
