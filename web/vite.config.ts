import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/** `.br` and `.gz` beside each script and stylesheet, which the server sends pre-compressed. */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'precompress',
    apply: 'build',
    configResolved: (config) => {
      outDir = path.resolve(config.root, config.build.outDir, config.build.assetsDir);
    },
    closeBundle: () => {
      for (const name of readdirSync(outDir)) {
        if (!/\.(js|css)$/.test(name)) continue;
        const file = path.join(outDir, name);
        const content = readFileSync(file);
        writeFileSync(`${file}.br`, brotliCompressSync(content));
        writeFileSync(`${file}.gz`, gzipSync(content, { level: 9 }));
      }
    },
  };
}

/**
 * The dashboard's build (`npm run build:web`, run by `npm install` through `prepare`). Output in
 * web/dist: `index.html` plus content-hashed files under `assets/` that the server caches as
 * immutable. Nothing inline (the server's CSP allows no inline script or style) and nothing
 * from another host.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Never inline assets as data: URLs into CSS/JS (keeps the CSP simple and caching per file).
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: false,
    sourcemap: false,
  },
  server: {
    // `npm run dev:web` against a server on the default port.
    proxy: { '/graphql': 'http://127.0.0.1:4000', '/api': 'http://127.0.0.1:4000' },
  },
});
