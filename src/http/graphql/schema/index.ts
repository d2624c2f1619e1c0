import { builder } from './builder.js';
import './strategy.js';
import './run.js';
import './run-event.js';
import './access.js';

/** The GraphQL schema: every type file registers itself on the builder. */
export const schema = builder.toSchema({ sortSchema: false });
