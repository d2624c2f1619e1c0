import SchemaBuilder from '@pothos/core';
import { DateTimeISOResolver, JSONResolver } from 'graphql-scalars';
import type { RequestContext } from '../../../resolvers/context.js';

/** The one schema builder: context type, scalars and plugins. Types live in their own files. */
export const builder = new SchemaBuilder<{
  Context: RequestContext;
  DefaultFieldNullability: false;
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date | string };
  };
}>({
  defaultFieldNullability: false,
});

builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('DateTime', DateTimeISOResolver);

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
