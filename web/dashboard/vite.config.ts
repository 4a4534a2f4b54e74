import { defineConfig } from 'vite';

// Relative asset paths: the built files work from any directory (`omnidesk serve` at `/`,
// or an S3 prefix). No plugin needed: Vite compiles TSX with Preact's automatic JSX runtime.
export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  test: { include: ['test/**/*.test.ts', 'test/**/*.test.tsx'], environment: 'node' },
});
