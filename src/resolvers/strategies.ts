import type { Strategy } from '../runner/strategy-registry.js';
import type { AppContext } from './context.js';

export function listStrategies(ctx: AppContext): Strategy[] {
  return ctx.runner.registry.list();
}
