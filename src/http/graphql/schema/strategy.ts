import { listStrategies } from '../../../resolvers/strategies.js';
import type { Strategy } from '../../../runner/strategy-registry.js';
import { builder } from './builder.js';

export const StrategyType = builder.objectRef<Strategy>('Strategy').implement({
  description: 'A registered strategy script that can be executed.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    parametersSchema: t.field({
      type: 'JSON',
      description: 'JSON Schema of the parameters, with their defaults.',
      resolve: (strategy) => strategy.parametersSchema,
    }),
    timeoutSeconds: t.int({ nullable: true, resolve: (strategy) => strategy.timeoutSeconds ?? null }),
  }),
});

builder.queryField('strategies', (t) =>
  t.field({ type: [StrategyType], resolve: (_root, _args, ctx) => listStrategies(ctx) }),
);
