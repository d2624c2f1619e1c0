import type { TokenRecord } from '../../../db/api-tokens.js';
import type { Role } from '../../../model/role.js';
import { listTokens, whoAmI } from '../../../resolvers/tokens.js';
import { builder } from './builder.js';

const RoleType = builder.enumType('Role', {
  description: 'viewer: read and subscribe · operator: also start runs and cancel its own · admin: everything.',
  values: { VIEWER: { value: 'viewer' }, OPERATOR: { value: 'operator' }, ADMIN: { value: 'admin' } } as const,
});

const ApiTokenType = builder.objectRef<TokenRecord>('ApiToken').implement({
  description: 'An API token: its name and role, never the secret (shown once, when created).',
  fields: (t) => ({
    name: t.exposeString('name'),
    role: t.field({ type: RoleType, resolve: (token) => token.role }),
    createdAt: t.field({ type: 'DateTime', resolve: (token) => token.createdAt }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (token) => token.revokedAt }),
  }),
});

const ViewerType = builder.objectRef<{ name: string | null; role: Role; auth: string }>('Viewer').implement({
  description: 'Who is asking.',
  fields: (t) => ({
    name: t.exposeString('name', { nullable: true, description: 'The token’s name (null when AUTH=off).' }),
    role: t.field({ type: RoleType, resolve: (viewer) => viewer.role }),
    auth: t.exposeString('auth', { description: '`off` or `tokens`.' }),
  }),
});

builder.queryField('viewer', (t) => t.field({ type: ViewerType, resolve: (_root, _args, ctx) => whoAmI(ctx) }));

builder.queryField('tokens', (t) =>
  t.field({ type: [ApiTokenType], description: 'Every API token (admins only).', resolve: (_root, _args, ctx) => listTokens(ctx) }),
);
