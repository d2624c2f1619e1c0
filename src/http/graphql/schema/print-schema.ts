import { writeFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { schema } from './index.js';

/** `npm run codegen` step 1: the SDL of the code-first schema, committed as schema.graphql. */
export const SCHEMA_FILE = new URL('../../../../schema.graphql', import.meta.url);

export function schemaSdl(): string {
  return `${printSchema(schema)}\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  writeFileSync(SCHEMA_FILE, schemaSdl());
  console.log('wrote schema.graphql');
}
