/**
 * `npm run bench:accuracy`: analyze on every bundled model, printing measured vs reconstructed
 * latency (DLBricks' accuracy: reconstruction error within 5%) and the ordering measured ≥
 * sequential lower bound ≥ parallel lower bound ≥ ideal, with any violation explained.
 *
 * Each model is analyzed on an empty store, so analyze runs it end to end between the layer
 * benchmarks (in blocks alternating with the default variants' rounds; under conditions other than
 * `inference`, before them) and after them; measured is the trimmed mean of the runs between them
 * (else the mean of the times before and after; every latency is a trimmed mean) and drift how far the runs after differ (how far the
 * machine's speed moved: on a machine that drifts, an error smaller than that is not significant).
 *
 * The error is split in two so a miss can be traced: Σ in-context is the sum of each layer's time
 * inside the model run (one timed pass per layer, the run's real buffers), so
 *  - reconstructed vs Σ in-context is the micro-benchmarks against the same kernels in context
 *    (cache state, inputs produced by the previous layer), less the probed pass overhead, which
 *    the reconstruction subtracts and Σ in-context still holds;
 *  - Σ in-context vs measured (the same runs, after the benchmarks) is what one pass for the
 *    whole model saves over a timed pass per layer (about that pass overhead per layer), less the
 *    interruptions a run holds every time and each layer's trimmed mean drops as rare (on a CPU
 *    adapter, the scheduler taking the core for a tick; `npm run bench:run-split` separates them).
 * Options: `-- --tiny` (the small models only), `-- --models a,b` (by name), `-- --db FILE` (reuse a
 * store: layers measured once are not measured again, and then neither are the end-to-end runs
 * stored with the same settings: analyze reuses them), `-- --runs N` (end-to-end runs, default 10),
 * `-- --conditions C` (analyze's --conditions: how each layer's benchmark starts; default inference),
 * `-- --out DIR` (keep each model's `analyze --json` document there, for per-layer comparisons),
 * `-- --rounds N` (measure everything N times, each round on a fresh store, and judge each model
 * by its median error: on a noisy machine one round's error moves by several points).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModelBytes, MODELS } from '../models/index.js';
import { DEFAULT_CONDITIONS } from '../src/bench/measure.js';
import { summarize } from '../src/bench/stats.js';
import { backendText } from '../src/report/bench.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const tiny = args.includes('--tiny');
const only = opt('--models')?.split(',');
const runs = opt('--runs') ?? '10';
const conditions = opt('--conditions') ?? DEFAULT_CONDITIONS;
const rounds = Math.max(1, Number(opt('--rounds') ?? 1));
const outDir = opt('--out');
if (outDir) fs.mkdirSync(outDir, { recursive: true });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-accuracy-'));
const dbFor = (round: number): string => opt('--db') ?? path.join(dir, `accuracy-${round}.sqlite`);
const models = only ? MODELS.filter((m) => only.includes(m.name)) : MODELS.filter((x) => x.tiny === tiny);
if (only && models.length !== only.length) {
  console.error(`--models: unknown model(s) ${only.filter((n) => !MODELS.some((m) => m.name === n)).join(', ')}; known: ${MODELS.map((m) => m.name).join(', ')}`);
  process.exit(2);
}

/** Runs the CLI, stderr passed through (progress), stdout collected. */
function analyze(file: string, extra: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(root, 'bin/run.js'), 'analyze', file, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8') }));
  });
}

const pct = (a: number, b: number): string => `${(100 * (a - b) / b).toFixed(1)}%`;
const head = ['model', 'layers', 'measured ms', 'between (or before) / after ms', 'drift', 'run spread', 'reconstructed ms', 'error', 'Σ in-context ms', 'isolated vs context', 'context vs measured',
  'seq LB ms', 'par LB ms', 'ideal ms', 'outputs', 'ordering'];
const rows: string[][] = [];
let adapter: string | undefined;
const errors = new Map<string, number[]>(models.map((m) => [m.name, []]));
for (let round = 1; round <= rounds; round++) for (const m of models) {
  const db = dbFor(round);
  const file = path.join(dir, `${m.name}.onnx`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, buildModelBytes(m.name));
  process.stderr.write(`analyze ${m.name}${rounds > 1 ? ` (round ${round}/${rounds})` : ''}…\n`);
  const dims = Object.entries(m.dims).flatMap(([k, v]) => ['--dim', `${k}=${v}`]);
  const r = await analyze(file, [...dims, '--db', db, '--json', '--no-framework', '--runs', runs, '--conditions', conditions]);
  let row: string[];
  try {
    const doc = JSON.parse(r.stdout);
    if (outDir) fs.writeFileSync(path.join(outDir, `${m.name}${rounds > 1 ? `-${round}` : ''}.json`), r.stdout);
    if (doc.error) throw new Error(doc.error.message);
    const L = doc.latency;
    const err = L.reconstructionError === null ? NaN : 100 * L.reconstructionError;
    if (Number.isFinite(err)) errors.get(m.name)!.push(err);
    const inContext = (doc.layers as Array<{ runMs: number | null }>).reduce((a, l) => a + (l.runMs ?? 0), 0);
    const order: string[] = [];
    if (L.measuredMs !== null && L.measuredMs < L.sequentialLowerBoundMs) order.push(`measured < sequential LB: the layer benchmarks, less the probed pass overhead, sum above the model's one-pass run${L.drift !== null && Math.abs(L.drift) > 0.05 ? ` (the machine's speed drifted ${(100 * L.drift).toFixed(0)}% meanwhile)` : ''}`);
    if (L.sequentialLowerBoundMs < L.parallelLowerBoundMs) order.push('sequential < parallel (impossible: a bug)');
    if (L.parallelLowerBoundMs < L.idealMs) order.push('parallel < ideal (impossible: a bug)');
    const measured = L.measuredMs as number | null;
    const earlier = (L.measuredDuringMs ?? L.measuredBeforeMs) as number | null;
    adapter ??= `${doc.machine.adapterDescription} (${backendText(doc.machine)})`;
    row = [rounds > 1 ? `${m.name} #${round}` : m.name, String(doc.model.layerCount), measured?.toFixed(2) ?? '—',
      earlier === null ? '—' : `${earlier.toFixed(2)} / ${L.measuredAfterMs.toFixed(2)}`, L.drift === null ? '—' : `${(100 * L.drift).toFixed(1)}%`, L.measuredSpread === null ? '—' : `±${(50 * L.measuredSpread).toFixed(0)}%`, L.reconstructedMs.toFixed(2), Number.isFinite(err) ? `${err.toFixed(1)}%` : '—',
      measured !== null ? inContext.toFixed(2) : '—', measured !== null ? pct(L.reconstructedMs, inContext) : '—', measured !== null ? pct(inContext, L.measuredAfterMs) : '—',
      L.sequentialLowerBoundMs.toFixed(2), L.parallelLowerBoundMs.toFixed(2), L.idealMs.toFixed(2),
      doc.correctness ? (doc.correctness.ok ? 'ok' : 'MISMATCH') : 'unchecked', order.join('; ') || 'measured ≥ seq ≥ par ≥ ideal'];
  } catch (e) {
    row = [m.name, `failed (exit ${r.code}): ${(e as Error).message.split('\n')[0]}`];
  }
  rows.push(row);
  process.stderr.write(`${head.map((h, i) => `${h}: ${row[i] ?? ''}`).filter((_, i) => row[i] !== undefined).join(' · ')}\n`);
}
console.log(`adapter: ${adapter ?? '—'}; layers timed ${conditions}; end-to-end: at least ${runs} runs, then on to analyze's --run-budget-ms; latencies are trimmed means (a tenth off each end), run spread = ±(p90 − p10) / 2 / median`);
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
console.log(head.map((h, i) => h.padEnd(widths[i])).join('  '));
for (const r of rows) console.log(r.map((x, i) => (x ?? '').padEnd(widths[i])).join('  '));
if (rounds > 1) {
  for (const [name, es] of errors) if (es.length) console.log(`${name}: errors ${es.map((e) => `${e.toFixed(1)}%`).join(', ')}; median ${summarize(es).median.toFixed(1)}%`);
}
const judged = [...errors.values()].filter((es) => es.length).map((es) => Math.abs(summarize(es).median));
console.log(`worst ${rounds > 1 ? 'median ' : ''}reconstruction error: ${judged.length ? Math.max(...judged).toFixed(1) : '—'}% (target ≤ 5%)`);
fs.rmSync(dir, { recursive: true, force: true });
