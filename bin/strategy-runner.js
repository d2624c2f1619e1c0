#!/usr/bin/env node
// The `strategy-runner` command from a checkout: tsx's API compiles the TypeScript CLI as it
// loads (the same toolchain as `npm start`), so there is no build step to forget. Only the
// CLI's few modules are compiled, not the server.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
