/**
 * `npm run bench:accuracy`: analyze on every bundled model, printing measured vs reconstructed
 * latency (DLBricks' accuracy: reconstruction error within 5%) and the ordering measured ≥
 * sequential lower bound ≥ parallel lower bound ≥ ideal, with any violation explained.
 * Options: `-- --tiny` for the small models only (fast), `-- --db FILE` to reuse a store.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModelBytes, MODELS } from '../models/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const tiny = args.includes('--tiny');
const dbArg = args.indexOf('--db');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-accuracy-'));
const db = dbArg >= 0 ? args[dbArg + 1] : path.join(dir, 'accuracy.sqlite');

const rows: string[][] = [];
let worst = 0;
for (const m of MODELS.filter((x) => x.tiny === tiny)) {
  const file = path.join(dir, `${m.name}.onnx`);
  fs.writeFileSync(file, buildModelBytes(m.name));
  process.stderr.write(`analyze ${m.name}…\n`);
  const dims = Object.entries(m.dims).flatMap(([k, v]) => ['--dim', `${k}=${v}`]);
  const r = spawnSync(process.execPath, [path.join(root, 'bin/run.js'), 'analyze', file, ...dims, '--db', db, '--json', '--no-framework', '--runs', '10'],
    { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0 && !r.stdout) { rows.push([m.name, 'failed', '', '', '', '', '', '']); continue; }
  const doc = JSON.parse(r.stdout);
  if (doc.error) { rows.push([m.name, `error: ${doc.error.message}`, '', '', '', '', '', '']); continue; }
  const L = doc.latency;
  const err = L.reconstructionError === null ? NaN : 100 * L.reconstructionError;
  if (Number.isFinite(err)) worst = Math.max(worst, Math.abs(err));
  const order: string[] = [];
  if (L.measuredMs !== null && L.measuredMs < L.sequentialLowerBoundMs) order.push('measured < sequential LB: consecutive layers overlap in one submission and caches stay warm');
  if (L.sequentialLowerBoundMs < L.parallelLowerBoundMs) order.push('sequential < parallel (impossible: a bug)');
  if (L.parallelLowerBoundMs < L.idealMs) order.push('parallel < ideal (impossible: a bug)');
  rows.push([m.name, String(doc.model.layerCount), L.measuredMs?.toFixed(2) ?? '—', L.reconstructedMs.toFixed(2), Number.isFinite(err) ? `${err.toFixed(1)}%` : '—',
    L.sequentialLowerBoundMs.toFixed(2), L.parallelLowerBoundMs.toFixed(2), L.idealMs.toFixed(2), doc.correctness?.ok ? 'ok' : 'MISMATCH', order.join('; ') || 'measured ≥ seq ≥ par ≥ ideal']);
}
const head = ['model', 'layers', 'measured ms', 'reconstructed ms', 'error', 'seq LB ms', 'par LB ms', 'ideal ms', 'outputs', 'ordering'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
console.log(head.map((h, i) => h.padEnd(widths[i])).join('  '));
for (const r of rows) console.log(r.map((x, i) => (x ?? '').padEnd(widths[i])).join('  '));
console.log(`worst reconstruction error: ${worst.toFixed(1)}% (target ≤ 5%)`);
fs.rmSync(dir, { recursive: true, force: true });
