import { readFileSync } from 'node:fs';
import type { GraphQLObjectType } from 'graphql';
import { expect, it } from 'vitest';
import { schema } from '../src/http/graphql/schema/index.js';
import { SCHEMA_FILE, schemaSdl } from '../src/http/graphql/schema/print-schema.js';

it('schema.graphql is the SDL of the code-first schema (run `npm run codegen` after changing src/schema)', () => {
  expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaSdl());
});

/** `name(arg: Type, …): Type`, whatever descriptions the field carries. */
function signature(type: GraphQLObjectType | null | undefined, name: string): string {
  const field = type?.getFields()[name];
  if (!field) return `(missing ${name})`;
  const args = field.args.map((a) => `${a.name}: ${String(a.type)}`).join(', ');
  return `${name}${args ? `(${args})` : ''}: ${String(field.type)}`;
}

it('keeps every name CONTRACT §3 pins', () => {
  expect(schemaSdl()).toContain('enum RunStatus {\n  QUEUED\n  RUNNING\n  CANCELLING\n  COMPLETED\n  FAILED\n  CANCELLED\n}');
  const query = schema.getQueryType();
  const mutation = schema.getMutationType();
  const subscription = schema.getSubscriptionType();
  expect(signature(query, 'strategies')).toBe('strategies: [Strategy!]!');
  expect(signature(query, 'run')).toBe('run(id: ID!): Run');
  expect(signature(query, 'runs')).toBe('runs(status: [RunStatus!], strategy: String, first: Int, after: String): RunConnection!');
  expect(signature(mutation, 'executeStrategy')).toBe('executeStrategy(input: ExecuteStrategyInput!): Run!');
  expect(signature(mutation, 'cancelRun')).toBe('cancelRun(id: ID!): Run!');
  expect(signature(subscription, 'runEvents')).toBe('runEvents(runId: ID!, afterSeq: Int): RunEvent!');
  expect(signature(subscription, 'runUpdated')).toBe('runUpdated: Run!');
  const input = schema.getType('ExecuteStrategyInput') as unknown as { getFields(): Record<string, { type: unknown }> };
  expect(Object.fromEntries(Object.entries(input.getFields()).map(([k, v]) => [k, String(v.type)]))).toEqual({
    strategy: 'String!',
    parameters: 'JSON',
    idempotencyKey: 'String', // CONTRACT §8
  });
  const run = schema.getType('Run') as GraphQLObjectType;
  for (const field of ['id', 'strategy', 'status', 'progressPercent', 'stage', 'message', 'createdAt', 'startedAt', 'finishedAt', 'exitCode', 'result', 'error']) {
    expect(run.getFields()).toHaveProperty(field);
  }
  const event = schema.getType('RunEvent') as GraphQLObjectType;
  for (const field of ['seq', 'eventType', 'timestamp', 'stage', 'progressPercent', 'currentItem', 'totalItems', 'completedItems', 'message', 'metrics', 'status', 'level', 'data']) {
    expect(event.getFields()).toHaveProperty(field);
  }
});
