import {
  createSourceEventStream,
  execute,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  Kind,
  print,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Subscribers with the same selection share one execution per event (the way Hasura
 * multiplexes): the first subscriber to reach an event executes it, the others reuse that
 * result. This works because a run's live events reach every stream as the very same objects
 * (src/events/run-event-hub.ts), so the event object identifies "this event" and a WeakMap keyed
 * by it keeps the results exactly as long as the event lives. Events read from storage (history,
 * resume) are objects of their own stream and simply execute once each, as before.
 *
 * What makes two executions interchangeable, and so forms the key:
 * - the document with the root field's arguments and the variable definitions left out: for the
 *   fields listed in `fields`, arguments choose the source (which run, from where) and never the
 *   per-event result, so clients resuming from different `afterSeq` still share;
 * - the operation name, and the values (defaults applied) of every variable used anywhere else
 *   (`@include(if: $x)`, nested arguments);
 * - `contextKey(context)`: whatever of the requester could change a result (the principal's role).
 *
 * A result with errors is never handed to another subscriber (its locations and paths belong to
 * one document's text); each subscriber gets its own shallow copy, so a plugin that sets
 * `extensions` on one cannot reach the others. Everything else (a source that fails to start,
 * bad variables, a failing source, a non-listed field) takes yoga's own path unchanged.
 */
export interface SharedSubscriptionOptions<TContext> {
  /** Root subscription fields whose per-event result depends on the event alone, not on their arguments. */
  readonly fields: readonly string[];
  /** What of the context can change a result (e.g. the principal's role). @default () => '' */
  readonly contextKey?: (context: TContext) => string;
}

export type MaybePromise<T> = T | Promise<T>;

/**
 * The executions shared per event and key, with the shapes and keys that decide sharing: one
 * per server, used by the plugin below and by the multiplexed GraphQL-SSE stream
 * (multiplexed-run-events.ts), so their subscribers share with each other too.
 */
export class SharedExecutions<TContext> {
  private readonly fields: ReadonlySet<string>;
  private readonly shapes = new WeakMap<DocumentNode, Map<string, Shape | null>>();
  private readonly byEvent = new WeakMap<object, Map<string, MaybePromise<ExecutionResult>>>();
  private readonly contextPart: (context: TContext) => string;

  constructor(options: SharedSubscriptionOptions<TContext>) {
    this.fields = new Set(options.fields);
    this.contextPart = options.contextKey ?? (() => '');
  }

  /** The shape to share executions by, or null when the operation is not one of ours. Cached per document. */
  shapeOf(document: DocumentNode, operationName: string | null | undefined): Shape | null {
    let perDocument = this.shapes.get(document);
    if (!perDocument) this.shapes.set(document, (perDocument = new Map()));
    const name = operationName ?? '';
    let shape = perDocument.get(name);
    if (shape === undefined) perDocument.set(name, (shape = shareableShape(document, operationName, this.fields)));
    return shape;
  }

  /** The sharing key of one subscription, or null when its variables do not coerce. */
  keyOf(shape: Shape, schema: GraphQLSchema, variableValues: ExecutionArgs['variableValues'], context: TContext): string | null {
    const variables = getVariableValues(schema, shape.operation.variableDefinitions ?? [], variableValues ?? {});
    if (variables.errors) return null;
    const used = shape.variables.map((name) => [name, variables.coerced[name]]);
    return `${shape.text}\n${JSON.stringify(used)}\n${this.contextPart(context)}`;
  }

  /**
   * The result of `event` under `key`: the first caller's execution, shared (the same object:
   * callers must not change it). A result with errors is never shared: `run` executes again.
   */
  resultFor(event: unknown, key: string, run: () => MaybePromise<ExecutionResult>): MaybePromise<ExecutionResult> {
    if (typeof event !== 'object' || event === null) return run();
    let results = this.byEvent.get(event);
    if (!results) this.byEvent.set(event, (results = new Map()));
    const shared = results.get(key);
    if (shared === undefined) {
      const own = run();
      results.set(key, own);
      return own;
    }
    return mapResolved(shared, (result) => (result.errors ? run() : result));
  }
}

// `any`: yoga's own bound on a plugin's context (an interface has no index signature).
export function useSharedSubscriptionExecution<TContext extends Record<string, any>>(shared: SharedExecutions<TContext>): Plugin<TContext> {
  return {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      const subscribe = async (args: ExecutionArgs) => {
        const shape = shared.shapeOf(args.document, args.operationName);
        // yoga's executor reports bad variables in its own shape: let it.
        const key = shape && shared.keyOf(shape, args.schema, args.variableValues, args.contextValue as TContext);
        if (!shape || key === null) return subscribeFn(args);
        const source = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in source)) return source;
        // Each subscriber gets its own shallow copy: a plugin setting `extensions` on one cannot reach the others.
        return mapEvents(source, shape.operation, (payload) =>
          mapResolved(shared.resultFor(payload, key, () => execute({ ...args, rootValue: payload }) as MaybePromise<ExecutionResult>), (result) => ({ ...result })),
        );
      };
      setSubscribeFn(subscribe as typeof subscribeFn);
    },
  };
}

export interface Shape {
  readonly operation: OperationDefinitionNode;
  /** The document without the root field's arguments and the variable definitions, plus the operation name. */
  readonly text: string;
  /** Variables that may change a result: those used anywhere but in the root field's arguments. */
  readonly variables: readonly string[];
}

/** The shape to share executions by, or null when the operation is not one of ours. */
function shareableShape(document: DocumentNode, operationName: string | null | undefined, fields: ReadonlySet<string>): Shape | null {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'subscription') return null;
  const [root, ...others] = operation.selectionSet.selections;
  if (!root || others.length > 0 || root.kind !== Kind.FIELD || !fields.has(root.name.value)) return null;
  const bareRoot: FieldNode = { ...root, arguments: [] };
  const bareOperation: OperationDefinitionNode = {
    ...operation,
    variableDefinitions: [],
    selectionSet: { ...operation.selectionSet, selections: [bareRoot] },
  };
  const bare: DocumentNode = { ...document, definitions: document.definitions.map((d) => (d === operation ? bareOperation : d)) };
  const variables = new Set<string>();
  visit(bare, { Variable: (node) => void variables.add(node.name.value) });
  return { operation, text: `${operationName ?? ''}\n${print(bare)}`, variables: [...variables].sort() };
}

/**
 * The source's events mapped to results, as yoga's executor maps them: a plain iterator, so a
 * `return()` reaches the source at once, and an error of the source raised as a GraphQLError.
 */
function mapEvents(
  source: AsyncIterable<unknown>,
  operation: OperationDefinitionNode,
  map: (payload: unknown) => MaybePromise<ExecutionResult>,
): AsyncGenerator<ExecutionResult, void, void> {
  const iterator = source[Symbol.asyncIterator]();
  const close = async () => {
    await iterator.return?.();
    return { done: true, value: undefined } as const;
  };
  const mapped = {
    async next(): Promise<IteratorResult<ExecutionResult, void>> {
      let step: IteratorResult<unknown>;
      try {
        step = await iterator.next();
      } catch (error) {
        throw new GraphQLError((error as Error).message, { originalError: error as Error, nodes: [operation] });
      }
      if (step.done) return { done: true, value: undefined };
      try {
        return { done: false, value: await map(step.value) };
      } catch (error) {
        await close().catch(() => undefined);
        throw error;
      }
    },
    return: close,
    async throw(error: unknown): Promise<IteratorResult<ExecutionResult, void>> {
      await close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return mapped;
    },
  };
  return mapped as unknown as AsyncGenerator<ExecutionResult, void, void>;
}

/** `next` of the value, at once when it is not a promise (no microtask per subscriber). Not named `then`: a module exporting `then` is a thenable to `import()`. */
export function mapResolved<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
