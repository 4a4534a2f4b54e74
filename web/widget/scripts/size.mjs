// Size budgets (gzip level 9): the loader ≤ 6 KB, everything the widget ships ≤ 40 KB.
// Also checks the bundles are ASCII-only (they must not depend on the charset they are served with).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '../dist');
const LOADER_MAX = 6 * 1024;
const TOTAL_MAX = 40 * 1024;
const gz = (p) => gzipSync(readFileSync(p), { level: 9 }).length;
const walk = (d) => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));

const loader = gz(join(dist, 'widget.js'));
// The demo host page and its script are for trying the widget by hand; visitors never load them.
const assets = walk(join(dist, 'widget')).filter((a) => !/[/\\]demo\.(html|js)$/.test(a));
let total = loader;
for (const a of assets) {
  const n = gz(a);
  total += n;
  console.log(`  ${relative(dist, a)}: ${(n / 1024).toFixed(2)} KB gzipped`);
}
const kb = (n) => `${(n / 1024).toFixed(2)} KB`;
console.log(`loader widget.js: ${kb(loader)} gzipped (budget ${kb(LOADER_MAX)})`);
console.log(`total (loader + widget/*): ${kb(total)} gzipped (budget ${kb(TOTAL_MAX)})`);
let ok = true;
for (const f of [join(dist, 'widget.js'), ...assets.filter((a) => a.endsWith('.js'))]) {
  if (/[^\x00-\x7f]/.test(readFileSync(f, 'utf8'))) (ok = false), console.error(`FAIL: ${relative(dist, f)} is not ASCII-only (charset-independent)`);
}
if (loader > LOADER_MAX) (ok = false), console.error(`FAIL: the loader is over its ${kb(LOADER_MAX)} budget`);
if (total > TOTAL_MAX) (ok = false), console.error(`FAIL: the widget is over its ${kb(TOTAL_MAX)} budget`);
process.exit(ok ? 0 : 1);
