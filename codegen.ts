import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen`: schema.graphql is printed from the Pothos schema first (see package.json),
 * then typed documents are generated from the operations of the tests (`graphql(...)` calls in
 * test/documents.ts) and of the dashboard (web/src/**\/*.graphql).
 */
const scalars = { DateTime: 'string', JSON: 'unknown' };

const config: CodegenConfig = {
  schema: 'schema.graphql',
  ignoreNoDocuments: false,
  // NodeNext needs explicit extensions on relative imports (STACK.md pitfall 11).
  importExtension: '.js',
  generates: {
    'test/gql/': {
      documents: ['test/documents.ts'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, enumsAsTypes: true, scalars },
    },
    // The dashboard imports each operation's typed document by name (tree-shaken) as a plain
    // string, so no GraphQL parser or printer ships to the browser.
    'web/src/gql/': {
      documents: ['web/src/**/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, enumsAsTypes: true, scalars, documentMode: 'string' },
    },
  },
};

export default config;
