/**
 * `npm run bench:parse`: the model processor's cost against the cost of merely reading the file.
 *
 * For the bundled models and a generated model of at least 500 MB, in one run: the time to read
 * the file's bytes (fs.readFileSync) and the time to parse + infer shapes + de-duplicate, each the
 * median of several runs in a fresh child process (so the page cache is warm for both and nothing
 * is shared between them), with their ratio; and the processing child's peak RSS against the file
 * size. Targets (issue 2): time ≤ 3× the raw read; peak RSS ≤ 1.5 × file size + 150 MB.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { buildModelBytes, MODELS } from '../models/index.js';
import { writeLargeModel } from '../models/large.js';
import { dedupe } from '../src/ir/dedupe.js';
import { loadGraph } from '../src/kernels/model.js';

const REPEATS = 5;
const LARGE_BYTES = 520 * 2 ** 20;

interface ChildResult { ms: number[]; maxRssBytes: number; layers?: number; unique?: number }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Child mode: `parse.js --child read|process FILE DIMS_JSON` prints a ChildResult. */
function child(mode: string, file: string, dims: Record<string, number>): void {
  const ms: number[] = [];
  let layers = 0;
  let unique = 0;
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    if (mode === 'read') {
      const b = fs.readFileSync(file);
      if (b.length === 0) throw new Error('empty');
    } else {
      const g = loadGraph(file, { dims: new Map(Object.entries(dims)), shapes: new Map() });
      unique = dedupe([g]).length;
      layers = g.nodes.length;
    }
    ms.push(performance.now() - t0);
    if (global.gc) global.gc();
  }
  const r: ChildResult = { ms, maxRssBytes: peakRss(), layers, unique };
  process.stdout.write(JSON.stringify(r));
}

/**
 * Peak RSS of this process image. Not getrusage's maxRSS: Linux carries that across fork+exec, so
 * a child would report its parent's peak. VmHWM belongs to the address space exec created.
 */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

function runChild(mode: string, file: string, dims: Record<string, number>): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--expose-gc', self, '--child', mode, file, JSON.stringify(dims)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`child ${mode} ${file} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-bench-parse-'));
  const cases: Array<{ name: string; file: string; dims: Record<string, number> }> = [];
  for (const m of MODELS.filter((x) => !x.tiny)) {
    const file = path.join(dir, `${m.name}.onnx`);
    fs.writeFileSync(file, buildModelBytes(m.name));
    cases.push({ name: m.name, file, dims: m.dims });
  }
  const large = path.join(dir, 'large.onnx');
  process.stderr.write(`generating a ${(LARGE_BYTES / 2 ** 20).toFixed(0)} MiB model…\n`);
  writeLargeModel(large, LARGE_BYTES);
  cases.push({ name: 'large (generated)', file: large, dims: {} });

  const rows: string[][] = [];
  let ok = true;
  for (const c of cases) {
    process.stderr.write(`measuring ${c.name}…\n`);
    const size = fs.statSync(c.file).size;
    const read = runChild('read', c.file, c.dims);
    const proc = runChild('process', c.file, c.dims);
    const ratio = median(proc.ms) / median(read.ms);
    const rssMB = proc.maxRssBytes / 2 ** 20;
    const rssLimitMB = (1.5 * size) / 2 ** 20 + 150;
    const pass = ratio <= 3 && rssMB <= rssLimitMB;
    ok &&= pass;
    rows.push([c.name, (size / 2 ** 20).toFixed(1), `${proc.layers}/${proc.unique}`, median(read.ms).toFixed(1), median(proc.ms).toFixed(1),
      ratio.toFixed(2), rssMB.toFixed(0), (proc.maxRssBytes / size).toFixed(2), rssLimitMB.toFixed(0), pass ? 'yes' : 'NO']);
  }
  const head = ['model', 'MiB', 'layers/unique', 'read ms', 'process ms', 'time ratio (≤3)', 'peak RSS MiB', 'RSS/size', 'RSS limit MiB', 'meets targets'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => x.padStart(widths[i])).join('  ');
  console.log(`parse benchmark (median of ${REPEATS}, Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'})`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  fs.rmSync(dir, { recursive: true, force: true });
  if (!ok) process.exitCode = 1;
}

if (process.argv[2] === '--child') child(process.argv[3], process.argv[4], JSON.parse(process.argv[5] ?? '{}'));
else main();
