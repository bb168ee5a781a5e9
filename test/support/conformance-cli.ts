/**
 * Developer tool: `npx tsx test/support/conformance-cli.ts [substring…] [--all] [--baseline]`
 * prints conformance failures (and with --all, skips) for cases whose name contains a substring.
 * `--baseline` rewrites test/onnx/shapes/conformance-baseline.json with the passing cases.
 */
import fs from 'node:fs';
import { perOp, runAll } from './conformance.js';

const args = process.argv.slice(2);
const words = args.filter((a) => !a.startsWith('--'));
const results = runAll(words.length ? (n) => words.some((w) => n.includes(w)) : undefined);
for (const r of results) {
  if (r.status === 'fail' || (args.includes('--all') && r.status === 'skip')) console.log(`${r.status.toUpperCase()} ${r.name}: ${r.reason}`);
}
const pass = results.filter((r) => r.status === 'pass').length;
const fail = results.filter((r) => r.status === 'fail').length;
console.log(`\n${pass} passed, ${fail} failed, ${results.length - pass - fail} skipped (of ${results.length})`);
if (args.includes('--per-op')) for (const [op, c] of [...perOp(results)].sort()) console.log(`${op}: ${c.pass}/${c.total}`);
if (args.includes('--baseline')) {
  const file = new URL('../onnx/shapes/conformance-baseline.json', import.meta.url);
  fs.writeFileSync(file, `${JSON.stringify(results.filter((r) => r.status === 'pass').map((r) => r.name), null, 1)}\n`);
  console.log(`wrote ${file.pathname}`);
}
