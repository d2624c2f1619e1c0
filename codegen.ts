import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen`: schema.graphql is printed from the Pothos schema first (see package.json),
 * then typed documents are generated from the `graphql(...)` operations under test/.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/documents.ts'],
  ignoreNoDocuments: false,
  // NodeNext needs explicit extensions on relative imports (STACK.md pitfall 11).
  importExtension: '.js',
  generates: {
    'test/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
  },
};

export default config;
