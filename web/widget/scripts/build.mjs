// Builds the two IIFE bundles with Vite (no config file): dist/widget.js (the loader) and
// dist/widget/panel.js (the panel), then copies the demo host page and its script (served at
// /widget/demo.html and /widget/demo.js).
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

async function bundle(entry, fileName) {
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    publicDir: false,
    build: {
      outDir: dist,
      emptyOutDir: false,
      target: 'es2020',
      minify: true,
      sourcemap: false,
      reportCompressedSize: false,
      copyPublicDir: false,
      lib: { entry: join(root, entry), formats: ['iife'], name: 'omnidesk', fileName: () => fileName },
    },
  });
}

// ASCII-only output: a host page or a server that does not say `charset=utf-8` must not turn
// the zh/ru/ar strings into mojibake. Every non-ASCII UTF-16 unit becomes \uXXXX, which means
// the same inside the string, template and regex literals where such characters occur.
function asciiOnly(file) {
  const js = readFileSync(file, 'utf8');
  writeFileSync(file, js.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

await bundle('src/loader.ts', 'widget.js');
await bundle('src/panel/main.ts', 'widget/panel.js');
asciiOnly(join(dist, 'widget.js'));
asciiOnly(join(dist, 'widget/panel.js'));
mkdirSync(dist, { recursive: true });
copyFileSync(join(root, 'public/demo.html'), join(dist, 'widget/demo.html'));
copyFileSync(join(root, 'public/demo.js'), join(dist, 'widget/demo.js'));
console.log('built dist/widget.js, dist/widget/panel.js, dist/widget/demo.html, dist/widget/demo.js');
