/**
 * `npm run bench:coldstart`: what a first analysis costs on a fresh machine, and a second one.
 *
 * Per model (resnet-tiny, mobilenetv2, resnet50): `dlprof analyze MODEL --json` as a fresh process
 * on an empty store with Mesa's shader cache disabled (MESA_SHADER_CACHE_DISABLE=true: a fresh
 * machine has compiled nothing), then the same command again on the store it filled, twice, with
 * Mesa's shader cache on in an empty directory of its own: the store holds the model's end-to-end
 * and onnxruntime runs from the first run too (store/model-runs.ts), so neither runs the model (before
 * it did, and the first of them compiled the model's own programs and onnxruntime's); the second is a
 * user's next run on the same machine (store and shader cache warm). Each run's
 * wall time, split by analyze's own clock (analysisTime: parse, probe, compile with the number of
 * programs, check, timing, end-to-end runs, onnxruntime), beside the same figures for the code
 * before shape-generic programs (bench/coldstart-baseline.json, recorded once with this script's
 * `--record` from that commit's build: `--cli OTHER/bin/run.js`).
 *
 * Options: `-- --models a,b`, `-- --timeout S` (per run; a run cut off is reported as "> S"),
 * `-- --cli PATH` (the dlprof to run), `-- --record FILE` (write what was measured as a baseline),
 * `-- --out FILE` (write it as JSON).
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildModelBytes } from '../models/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };

const MODELS: Record<string, { file: string; build?: string }> = {
  'resnet-tiny': { file: path.join(root, 'fixtures/resnet-tiny.onnx') },
  mobilenetv2: { file: path.join(root, 'models/out/mobilenetv2.onnx'), build: 'mobilenetv2' },
  resnet50: { file: path.join(root, 'models/out/resnet50.onnx'), build: 'resnet50' },
};
/** The targets this benchmark is held to on the 2-core lavapipe host (seconds). */
const TARGETS: Record<string, { cold?: number; warm: number }> = {
  'resnet-tiny': { cold: 45, warm: 3 },
  mobilenetv2: { warm: 3 },
  resnet50: { cold: 240, warm: 3 },
};

export interface RunFigures {
  /** Wall time of the process, seconds; null when it was cut off at `timeoutS`, or not run. */
  wallS: number | null;
  /** Not run, since the run before it was cut off. */
  skipped?: boolean;
  timeoutS?: number;
  exit?: number | null;
  programs?: number;
  phases?: Record<string, number>;
}
interface ModelFigures { cold: RunFigures; warmStore?: RunFigures; warm: RunFigures }
interface Baseline { commit: string; recorded: string; machine: string; note?: string; models: Record<string, Partial<ModelFigures>> }

function run(cli: string, model: string, db: string, timeoutS: number, shaderCache?: string): Promise<RunFigures> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    if (shaderCache) Object.assign(env, { MESA_SHADER_CACHE_DIR: shaderCache, MESA_SHADER_CACHE_DISABLE: 'false' });
    else env.MESA_SHADER_CACHE_DISABLE = 'true';
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, 'analyze', model, '--db', db, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallS = (performance.now() - t0) / 1000;
      if (signal) return resolve({ wallS: null, timeoutS, exit: null });
      if (code !== 0 && code !== 7) return reject(new Error(`analyze ${model} exited ${code}: ${err.split('\n').filter(Boolean).slice(-3).join(' | ')}`));
      let phases: Record<string, number> | undefined;
      let programs: number | undefined;
      try {
        const doc = JSON.parse(out) as { analysisTime?: { programs: number; phases: Array<{ phase: string; seconds: number }> } };
        if (doc.analysisTime) {
          programs = doc.analysisTime.programs;
          phases = Object.fromEntries(doc.analysisTime.phases.map((p) => [p.phase, p.seconds]));
        }
      } catch {
        // an older dlprof's document, or none: the wall time stands alone
      }
      resolve({ wallS, exit: code, programs, phases });
    });
  });
}

const fmt = (r: RunFigures | undefined): string => (!r ? '—' : r.skipped ? 'not run' : r.wallS === null ? `> ${r.timeoutS} s` : `${r.wallS.toFixed(1)} s`);
const phaseText = (r: RunFigures): string => (r.phases
  ? Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(1)}${k === 'compile' ? ` (${r.programs} programs)` : ''}`).join(', ') : '—');

async function main(): Promise<void> {
  const names = (opt('--models') ?? Object.keys(MODELS).join(',')).split(',');
  for (const n of names) if (!MODELS[n]) throw new Error(`--models: unknown model '${n}' (known: ${Object.keys(MODELS).join(', ')})`);
  const cli = path.resolve(opt('--cli') ?? path.join(root, 'bin/run.js'));
  const timeoutS = Number(opt('--timeout') ?? 1800);
  const baselineFile = path.join(root, 'bench/coldstart-baseline.json');
  const baseline: Baseline | undefined = fs.existsSync(baselineFile) ? JSON.parse(fs.readFileSync(baselineFile, 'utf8')) as Baseline : undefined;
  // The commit measured: read before the runs (a commit made while they run is not what they ran).
  const commit = (() => { try { return execFileSync('git', ['-C', path.dirname(path.dirname(cli)), 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } })();
  const results: Record<string, ModelFigures> = {};
  for (const n of names) {
    const m = MODELS[n];
    if (!fs.existsSync(m.file) && m.build) {
      fs.mkdirSync(path.dirname(m.file), { recursive: true });
      fs.writeFileSync(m.file, buildModelBytes(m.build));
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-coldstart-'));
    try {
      const db = path.join(dir, 'store.sqlite');
      process.stderr.write(`${n}: cold (empty store, shader cache disabled)…\n`);
      const cold = await run(cli, m.file, db, timeoutS);
      process.stderr.write(`${n}: cold ${fmt(cold)}; warm store, empty shader cache…\n`);
      const cache = path.join(dir, 'mesa-cache');
      const warmStore = cold.wallS === null ? { wallS: null, skipped: true } : await run(cli, m.file, db, timeoutS, cache);
      process.stderr.write(`${n}: warm store ${fmt(warmStore)}; warm store and shader cache…\n`);
      const warm = warmStore.wallS === null ? { wallS: null, skipped: true } : await run(cli, m.file, db, timeoutS, cache);
      results[n] = { cold, warmStore, warm };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const machine = `${os.cpus()[0]?.model ?? 'cpu'} ×${os.cpus().length}, lavapipe (LP_NUM_THREADS=0)`;
  console.log(`bench:coldstart — dlprof at ${commit}, ${machine}; baseline: ${baseline ? `${baseline.commit} (${baseline.recorded})` : 'none'}`);
  if (baseline?.note) console.log(`baseline: ${baseline.note}`);
  console.log('| model | state | now | baseline | target | now: where the time went (s) |');
  console.log('|---|---|---|---|---|---|');
  for (const n of names) {
    const label = { cold: 'cold', warmStore: 'warm store, empty shader cache', warm: 'warm store and shader cache' } as const;
    for (const state of ['cold', 'warmStore', 'warm'] as const) {
      const r = results[n][state];
      if (!r) continue;
      const target = state === 'warmStore' ? undefined : TARGETS[n]?.[state];
      const met = target === undefined || r.wallS === null ? '' : r.wallS <= target ? ' ✓' : ' ✗';
      console.log(`| ${n} | ${label[state]} | ${fmt(r)}${met} | ${fmt(baseline?.models[n]?.[state])} | ${target === undefined ? '—' : `≤ ${target} s`} | ${phaseText(r)} |`);
    }
  }
  const doc = { commit, recorded: new Date().toISOString().slice(0, 10), machine, models: results };
  const record = opt('--record');
  if (record) fs.writeFileSync(record, `${JSON.stringify(doc, null, 1)}\n`);
  const out = opt('--out');
  if (out) fs.writeFileSync(out, `${JSON.stringify(doc, null, 1)}\n`);
}

main().catch((e: Error) => { console.error(`bench:coldstart: ${e.message}`); process.exit(1); });
