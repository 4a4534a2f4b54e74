import { defineConfig } from 'vitest/config';

// Unit tests only; the build is scripts/build.mjs (two IIFE bundles, no config file).
// happy-dom must never fetch a <script src> the loader injects.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'happy-dom',
    environmentOptions: {
      happyDOM: { settings: { disableJavaScriptFileLoading: true, disableJavaScriptEvaluation: true, disableCSSFileLoading: true, handleDisabledFileLoadingAsSuccess: true } },
    },
  },
});
