/**
 * `npm run bench:gpu -- DIR`: the checks a GPU machine is for, in one command that fits a short
 * lease (8 minutes by default), writing at most 8 files under DIR:
 *
 *   devices.json              `dlprof devices --json`, without and with --unlock-features
 *   analyze-resnet-tiny.json  `dlprof analyze --json` of resnet-tiny on an empty store, with the
 *                             onnxruntime comparison (kernel and host time) and --unlock-features
 *                             (f16 in the ideal latency where the toggles bring shader-f16)
 *   accuracy-tiny.txt         bench:accuracy on the tiny bundled models
 *   kernels.txt               bench:kernels (dlprof's kernels against onnxruntime's, GPU time on both sides)
 *   special.txt               bench:special (attention, neighborhood attention, deformable, sparse)
 *   accuracy-full.txt         bench:accuracy on full-size models, as far as the time left allows
 *   summary.json              each step: command, seconds, exit status, and whether it ran out of time
 *   log.txt                   every step's stderr (progress), for a step that ran out of time
 *
 * The steps run in that order, most valuable first, each under its own time cap and the overall
 * deadline; a step the deadline leaves no time for is skipped and says so in summary.json. Run it
 * after `npm run build`; on a machine without npm (the built project copied there with node), as
 * `node dist/bench/gpu.js DIR`. Options: `--quick` (a reduced set that finishes in minutes on a
 * software adapter: sparse-dnn-tiny for analyze and accuracy, one kernel layer, one special group,
 * no full-size models),
 * `--deadline S` (seconds for everything; default 480).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModelBytes, findModel } from '../models/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Options { dir: string; quick: boolean; deadlineS: number }

function parseArgs(argv: string[]): Options {
  let dir: string | undefined;
  let quick = false;
  let deadlineS = 480;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quick') quick = true;
    else if (argv[i] === '--deadline') deadlineS = Number(argv[++i]);
    else if (argv[i].startsWith('-')) throw new Error(`unknown option ${argv[i]} (usage: bench:gpu DIR [--quick] [--deadline S])`);
    else if (dir === undefined) dir = argv[i];
    else throw new Error(`one output directory, not '${dir}' and '${argv[i]}'`);
  }
  if (!dir) throw new Error('usage: bench:gpu DIR [--quick] [--deadline S]: DIR receives the result files');
  if (!(deadlineS > 0)) throw new Error('--deadline needs a positive number of seconds');
  return { dir, quick, deadlineS };
}

interface Step {
  name: string;
  /** The result file under DIR: the step's stdout. */
  file: string;
  args: string[];
  env?: Record<string, string>;
  /** Its own cap, seconds. */
  capS: number;
  /** Below this many seconds left, the step is skipped rather than started. */
  minS: number;
}

interface StepResult { name: string; file: string; command: string; seconds: number; status: 'ok' | 'failed' | 'out of time' | 'skipped'; exitCode: number | null }

/** Runs node with `args` from the project root, stdout into `out`, stderr onto `log`; killed after `capS`. */
function run(args: string[], env: Record<string, string>, out: fs.WriteStream, log: fs.WriteStream, capS: number): Promise<{ code: number | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGTERM'); setTimeout(() => p.kill('SIGKILL'), 5000).unref(); }, capS * 1000);
    p.stdout.pipe(out, { end: false });
    p.stderr.on('data', (b: Buffer) => { log.write(b); process.stderr.write(b); });
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, timedOut }); });
  });
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  fs.mkdirSync(o.dir, { recursive: true });
  const started = Date.now();
  const left = (): number => o.deadlineS - (Date.now() - started) / 1000;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-bench-gpu-'));
  const cli = path.join(root, 'bin/run.js');
  const bench = (name: string): string => path.join(root, 'dist/bench', `${name}.js`);
  const q = o.quick;
  const fast = q ? ['--budget-ms', '80', '--runs', '3', '--run-budget-ms', '0'] : [];
  // The analyzed model: resnet-tiny (the H200's +64.7 % of 4 Dec), or the 4-layer sparse DNN for --quick.
  const model = q ? 'sparse-dnn-tiny' : 'resnet-tiny';
  const modelFile = path.join(tmp, `${model}.onnx`);
  fs.writeFileSync(modelFile, buildModelBytes(model));
  const dims = Object.entries(findModel(model)!.dims).flatMap(([k, v]) => ['--dim', `${k}=${v}`]);
  const steps: Step[] = [
    { name: 'devices', file: 'devices.json', args: [], capS: 60, minS: 10 },
    { name: `analyze ${model}`, file: `analyze-${model}.json`, args: [cli, 'analyze', modelFile, ...dims, '--json', '--db', path.join(tmp, 'analyze.sqlite'), ...fast],
      env: { DLPROF_UNLOCK_FEATURES: '1' }, capS: q ? 600 : 120, minS: 30 },
    { name: 'accuracy (tiny models)', file: 'accuracy-tiny.txt', args: [bench('accuracy'), ...(q ? ['--models', model, '--runs', '3'] : ['--tiny'])], capS: q ? 600 : 170, minS: 60 },
    { name: 'kernels', file: 'kernels.txt', args: [bench('kernels'), ...(q ? ['--only', 'softmax', '--budget', '100', '--runs', '3'] : ['--budget', '500', '--runs', '10'])], capS: q ? 300 : 90, minS: 30 },
    { name: 'special layers', file: 'special.txt', args: [bench('special'), ...(q ? ['--only', 'neighborhood attention 1-D', '--budget', '50'] : ['--budget', '300'])], capS: q ? 300 : 90, minS: 30 },
    ...(q ? [] : [{ name: 'accuracy (full-size models)', file: 'accuracy-full.txt', args: [bench('accuracy'), '--models', 'vit-b16,mobilenetv2'], capS: 600, minS: 90 }]),
  ];
  const log = fs.createWriteStream(path.join(o.dir, 'log.txt'));
  const results: StepResult[] = [];
  try {
    for (const s of steps) {
      const t0 = Date.now();
      const cap = Math.min(s.capS, left() - 5);
      const command = s.name === 'devices' ? 'dlprof devices --json; dlprof devices --json --unlock-features' : ['node', ...s.args.map((a) => (a.startsWith(`${root}/`) ? path.relative(root, a) : a))].join(' ');
      if (cap < s.minS) {
        results.push({ name: s.name, file: s.file, command, seconds: 0, status: 'skipped', exitCode: null });
        continue;
      }
      log.write(`\n=== ${s.name}: ${command} (up to ${cap.toFixed(0)} s)\n`);
      process.stderr.write(`bench:gpu: ${s.name} (up to ${cap.toFixed(0)} s, ${left().toFixed(0)} s left)\n`);
      let r: { code: number | null; timedOut: boolean };
      if (s.name === 'devices') {
        // Both answers in one file: what the adapter offers by default and with the toggles.
        const parts: string[] = [];
        r = { code: 0, timedOut: false };
        for (const unlock of [false, true]) {
          const f = path.join(tmp, `devices-${unlock}.json`);
          const out = fs.createWriteStream(f);
          const one = await run([cli, 'devices', '--json', ...(unlock ? ['--unlock-features'] : [])], {}, out, log, cap / 2);
          await new Promise((res) => out.end(res));
          parts.push(fs.readFileSync(f, 'utf8').trim() || 'null');
          if (one.code !== 0 || one.timedOut) r = one;
        }
        fs.writeFileSync(path.join(o.dir, s.file), `{"default": ${parts[0]},\n"unlocked": ${parts[1]}}\n`);
      } else {
        const out = fs.createWriteStream(path.join(o.dir, s.file));
        r = await run(s.args, s.env ?? {}, out, log, cap);
        await new Promise((res) => out.end(res));
      }
      results.push({ name: s.name, file: s.file, command, seconds: Math.round((Date.now() - t0) / 100) / 10,
        status: r.timedOut ? 'out of time' : r.code === 0 ? 'ok' : 'failed', exitCode: r.code });
    }
  } finally {
    await new Promise((res) => log.end(res));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const summary = { quick: o.quick, deadlineS: o.deadlineS, seconds: Math.round((Date.now() - started) / 100) / 10, steps: results };
  fs.writeFileSync(path.join(o.dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  for (const r of results) console.log(`${r.name.padEnd(28)} ${r.status.padEnd(11)} ${String(r.seconds).padStart(6)} s  ${r.file}`);
  console.log(`bench:gpu: ${summary.seconds} s; results in ${o.dir}`);
  if (results.some((r) => r.status !== 'ok')) process.exitCode = 1;
}

await main();
