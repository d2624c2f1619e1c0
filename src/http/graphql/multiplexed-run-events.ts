import type { FastifyReply, FastifyRequest } from 'fastify';
import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { TOKEN_HEADER_KEY, TOKEN_QUERY_KEY } from 'graphql-sse';
import type { YogaServerInstance } from 'graphql-yoga';
import { isAppError } from '../../errors.js';
import type { RequestContext } from '../../resolvers/context.js';
import { streamMessages } from '../sse-response.js';
import { mapResolved, type MaybePromise, type SharedExecutions } from './use-shared-subscription-execution.js';
import { maskError } from './yoga.js';

type Yoga = YogaServerInstance<{ req?: FastifyRequest }, RequestContext>;

/** graphql-sse's keep-alive: a comment line every 12 s, as its own handler sends. */
const PING_MS = 12_000;

/** graphql-sse's own headers for an event stream. */
const GRAPHQL_SSE_HEADERS = {
  connection: 'keep-alive',
  'cache-control': 'no-cache',
  'content-encoding': 'none',
  'content-type': 'text/event-stream; charset=utf-8',
};

/**
 * `runEvents` over GraphQL-SSE in distinct-connections mode (the graphql-sse client's default,
 * the dashboard's and the CLI's), multiplexed the way Hasura does it: per live event and per
 * selection, one execution and one serialized message, written as is to every subscriber.
 *
 * Through yoga's envelop with graphql-sse's handler, every subscriber's every event went through
 * about nine async iterator layers (graphql-js' mapping, each plugin's result hook, graphql-sse's
 * queue) and its own `JSON.stringify`: with a hundred subscribers of a run, that was the cost of
 * a live event, and those layers lived as long as each idle stream. Here a subscriber costs what
 * a REST stream costs: its source (the run's hub, history first) and one write per event.
 *
 * What stays yoga's: parsing and validation (the limits, parse/validate metrics), the context
 * (who is asking) and the masking of errors. Anything that is not a valid, authorized `runEvents`
 * subscription on a POST without a stream token is not ours: `serve` answers false and the
 * caller takes graphql-sse's general path, which reports every error in the protocol's shape.
 */
export class MultiplexedRunEvents {
  /** The `next` message of each shared result, serialized once. */
  private readonly messages = new WeakMap<ExecutionResult, string>();

  constructor(
    private readonly yoga: Yoga,
    private readonly sharing: SharedExecutions<RequestContext>,
  ) {}

  /** Streams the subscription and answers true, or answers false having sent nothing. */
  async serve(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const params = distinctStreamParams(request);
    if (!params) return false;
    const enveloped = this.yoga.getEnveloped({ req: request, params } as never);
    let document: DocumentNode;
    try {
      document = enveloped.parse(params.query);
    } catch {
      return false;
    }
    const shape = this.sharing.shapeOf(document, params.operationName);
    if (!shape || enveloped.validate(enveloped.schema, document).length > 0) return false;
    let contextValue: RequestContext;
    try {
      contextValue = (await enveloped.contextFactory()) as RequestContext;
    } catch {
      return false;
    }
    const key = this.sharing.keyOf(shape, enveloped.schema, params.variables, contextValue);
    if (key === null) return false;
    const args: ExecutionArgs = {
      schema: enveloped.schema,
      document,
      contextValue,
      variableValues: params.variables,
      operationName: params.operationName,
    };
    const source = await createSourceEventStream(args);
    // Did not start (unknown run, not allowed): nothing is held; the general path reports it.
    if (!(Symbol.asyncIterator in source)) return false;
    await streamMessages(
      reply,
      {
        status: 200,
        headers: GRAPHQL_SSE_HEADERS,
        items: source[Symbol.asyncIterator](),
        format: (event) => this.messageFor(event, key, args, request),
        // An empty message at once: some browsers do not treat the headers alone as the stream's start.
        first: ':\n\n',
        last: 'event: complete\ndata:\n\n',
        pingMs: PING_MS,
      },
      request.log,
    );
    return true;
  }

  /**
   * The `next` message of one event in one selection. A live event is the same object for every
   * stream of its run, so its result is executed once per key (shared with yoga's path too) and
   * serialized once. A result with errors is never shared (its paths belong to one document):
   * it is masked as yoga masks errors and serialized for this subscriber alone.
   */
  private messageFor(event: unknown, key: string, args: ExecutionArgs, request: FastifyRequest): MaybePromise<string> {
    const run = () => execute({ ...args, rootValue: event }) as MaybePromise<ExecutionResult>;
    return mapResolved(this.sharing.resultFor(event, key, run), (result) => {
      if (result.errors) return nextMessage({ ...result, errors: masked(result.errors, request) });
      let message = this.messages.get(result);
      if (message === undefined) this.messages.set(result, (message = nextMessage(result)));
      return message;
    });
  }
}

// JSON.stringify escapes line breaks inside strings, so `data` is always one line.
const nextMessage = (result: ExecutionResult | { errors: Error[] }): string => `event: next\ndata: ${JSON.stringify(result)}\n\n`;

function masked(errors: ExecutionResult['errors'] & object, request: FastifyRequest): Error[] {
  return errors.map((error) => {
    const cause = error.originalError ?? error;
    if (!isAppError(cause)) request.log.error({ err: cause }, 'GraphQL operation failed');
    return maskError(error, 'Unexpected error.');
  });
}

interface StreamParams {
  query: string;
  variables?: Record<string, unknown> | undefined;
  operationName?: string | undefined;
}

/** The operation of a distinct-connections stream request (POST, JSON, no stream token), else undefined. */
function distinctStreamParams(request: FastifyRequest): StreamParams | undefined {
  if (request.method !== 'POST' || request.headers.accept !== 'text/event-stream') return undefined;
  if (!request.headers['content-type']?.includes('application/json')) return undefined;
  if (request.headers[TOKEN_HEADER_KEY] !== undefined) return undefined;
  const search = request.url.indexOf('?');
  if (search >= 0 && new URLSearchParams(request.url.slice(search + 1)).has(TOKEN_QUERY_KEY)) return undefined;
  if (!Buffer.isBuffer(request.body)) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { query, variables, operationName } = body as Record<string, unknown>;
  if (typeof query !== 'string') return undefined;
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
  return { query, variables: (variables ?? undefined) as Record<string, unknown> | undefined, operationName: operationName ?? undefined };
}
