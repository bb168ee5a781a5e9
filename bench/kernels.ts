/**
 * `npm run bench:kernels`: dlprof's kernels against onnxruntime's WebGPU execution provider, side by
 * side in one run on the same adapter, on a fixed set of layers taken from the bundled models. GPU
 * kernel time against GPU kernel time:
 *
 * dlprof: every variant is checked against the reference and timed with GPU timestamps around its
 * pass; the best variant's median counts (the default variant is shown too).
 * onnxruntime: the layer as a single-node model on the `webgpu` EP with its profiler on, which
 * times each of its program dispatches with GPU timestamps around its own pass (ort.ts
 * ortProfile); the layer's time is the median over the runs of its node's kernels. Kernels
 * onnxruntime adds around it (layout transposes) are shown apart, not counted.
 * A time that is missing, zero or negative on either side is an error on that row (exit 1), never
 * clamped. Prints each ratio (onnxruntime / dlprof: > 1 means dlprof is faster) and their
 * geometric mean over the rows without error.
 * Options: `-- --only SUBSTRING[,…]` (the layers whose name contains one), `-- --budget MS` (dlprof's
 * time budget per variant, default 4000), `-- --runs N` (onnxruntime's profiled runs, default 15),
 * `-- --autotune off|quick|full` (dlprof's search of its fastest tunable variant's configurations,
 * default quick; the best is shown with its configuration).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { buildModelBytes } from '../models/index.js';
import { DEFAULT_TIMING, Timer } from '../src/bench/harness.js';
import { bestVariant, configText, measureLayer } from '../src/bench/measure.js';
import { ortProfile } from '../src/bench/ort.js';
import { geomean, summarize } from '../src/bench/stats.js';
import { closeGpu, openGpu } from '../src/gpu/device.js';
import { KernelRunner } from '../src/gpu/run.js';
import type { ModelGraph } from '../src/ir/graph.js';
import { loadGraph } from '../src/kernels/model.js';
import type { Layer } from '../src/ir/types.js';
import { AUTOTUNE_LEVELS, type AutotuneLevel, type HostTensor, type LayerCase } from '../src/kernels/types.js';
import { layerModel } from '../src/suite/emit.js';

interface Pick { name: string; model: string; dims?: Record<string, number>; match: (l: Layer) => boolean }

const sh = (l: Layer, i: number): number[] => l.inputs[i]?.shape ?? [];
const eq = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const attr = (l: Layer, k: string): unknown => l.attrs[k];
const is = (v: unknown, w: number[]): boolean => Array.isArray(v) && eq(v as number[], w);

const PICKS: Pick[] = [
  { name: 'conv 3×3 64→64 56² (ResNet-50)', model: 'resnet50', match: (l) => l.op === 'Conv' && is(attr(l, 'kernel_shape'), [3, 3]) && is(attr(l, 'strides'), [1, 1]) && eq(sh(l, 0), [1, 64, 56, 56]) },
  { name: 'conv 1×1 256→64 56² (ResNet-50)', model: 'resnet50', match: (l) => l.op === 'Conv' && is(attr(l, 'kernel_shape'), [1, 1]) && eq(sh(l, 0), [1, 256, 56, 56]) && sh(l, 1)[0] === 64 },
  { name: 'conv 3×3 s2 128 56²→28² (ResNet-50)', model: 'resnet50', match: (l) => l.op === 'Conv' && is(attr(l, 'kernel_shape'), [3, 3]) && is(attr(l, 'strides'), [2, 2]) && sh(l, 0)[1] === 128 },
  { name: 'depthwise 3×3 144ch 56² (MobileNetV2)', model: 'mobilenetv2', match: (l) => l.op === 'Conv' && attr(l, 'group') === 144 && sh(l, 0)[2] === 56 },
  { name: 'MatMul 197×768·768×2304 (ViT qkv)', model: 'vit-b16', dims: { batch: 1 }, match: (l) => l.op === 'MatMul' && eq(sh(l, 1), [768, 2304]) },
  { name: 'MatMul 197×3072·3072×768 (ViT fc2)', model: 'vit-b16', dims: { batch: 1 }, match: (l) => l.op === 'MatMul' && eq(sh(l, 1), [3072, 768]) },
  { name: 'Gemm 1×2048·2048×1000 (ResNet-50 head)', model: 'resnet50', match: (l) => l.op === 'Gemm' },
  { name: 'Softmax 12×197×197 (ViT)', model: 'vit-b16', dims: { batch: 1 }, match: (l) => l.op === 'Softmax' },
  { name: 'LayerNorm 197×768 (ViT)', model: 'vit-b16', dims: { batch: 1 }, match: (l) => l.op === 'LayerNormalization' },
];

function parseArgs(argv: string[]): { only?: string[]; budgetMs: number; runs: number; autotune: AutotuneLevel } {
  let autotune: AutotuneLevel = 'quick';
  let only: string[] | undefined;
  let budgetMs = 4000;
  let runs = 15;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') only = argv[++i]?.split(',');
    else if (argv[i] === '--budget') budgetMs = Number(argv[++i]);
    else if (argv[i] === '--runs') runs = Number(argv[++i]);
    else if (argv[i] === '--autotune') autotune = argv[++i] as AutotuneLevel;
    else throw new Error(`unknown option ${argv[i]} (options: --only SUBSTRING[,…], --budget MS, --runs N, --autotune off|quick|full)`);
  }
  if (!AUTOTUNE_LEVELS.includes(autotune)) throw new Error(`--autotune ${autotune}: expected one of ${AUTOTUNE_LEVELS.join(', ')}`);
  if (!(budgetMs > 0)) throw new Error('--budget needs a positive number of milliseconds');
  if (!(Number.isInteger(runs) && runs > 0)) throw new Error('--runs needs a positive integer');
  return { only, budgetMs, runs, autotune };
}

/**
 * GPU time of the layer on onnxruntime's WebGPU EP: its node's kernels per profiled run, median
 * over the runs; `addedMs`, the same for the kernels onnxruntime adds around it.
 * @throws Error when the profile has no kernel of the node, or its time is not positive.
 */
async function ortKernelTime(file: string, node: string, inputs: Map<string, HostTensor>, runs: number): Promise<{ ms: number; addedMs: number; programs: string[] }> {
  const p = await ortProfile(file, inputs, { runs, warmup: 3 });
  const own = (k: { node: string }): boolean => k.node === node || k.node.startsWith(`${node}_token_`);
  const ms = summarize(p.runs.map((r) => r.kernels.filter(own).reduce((a, k) => a + k.ms, 0))).median;
  const addedMs = summarize(p.runs.map((r) => r.kernels.filter((k) => !own(k)).reduce((a, k) => a + k.ms, 0))).median;
  const programs = [...new Set(p.runs[0].kernels.filter(own).map((k) => k.program))];
  if (!programs.length) throw new Error(`onnxruntime's profile has no GPU kernel of node '${node}' (kernels: ${p.nodes.map((n) => n.node).join(', ')})`);
  if (!(ms > 0)) throw new Error(`onnxruntime's kernels of '${node}' timed ${ms} ms: not a time`);
  return { ms, addedMs, programs };
}

async function main(): Promise<void> {
  const { only, budgetMs, runs, autotune } = parseArgs(process.argv.slice(2));
  const picks = PICKS.filter((p) => !only || only.some((o) => p.name.toLowerCase().includes(o.toLowerCase())));
  if (!picks.length) throw new Error(`no layer matches --only ${only!.join(',')}; layers: ${PICKS.map((p) => p.name).join('; ')}`);
  let failures = 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-bench-kernels-'));
  const graphs = new Map<string, ModelGraph>();
  const graphOf = (p: Pick): ModelGraph => {
    let g = graphs.get(p.model);
    if (!g) {
      const file = path.join(dir, `${p.model}.onnx`);
      fs.writeFileSync(file, buildModelBytes(p.model));
      g = loadGraph(file, { dims: new Map(Object.entries(p.dims ?? {})), shapes: new Map() });
      graphs.set(p.model, g);
    }
    return g;
  };
  const ctx = await openGpu();
  const runner = new KernelRunner(ctx);
  const timer = new Timer(runner);
  const rows: string[][] = [];
  const ratios: number[] = [];
  try {
    for (const p of picks) {
      const g = graphOf(p);
      const layer = [...g.layers.values()].find(p.match);
      if (!layer) { rows.push([p.name, 'layer not found in model', '', '', '', '', '']); continue; }
      const c: LayerCase = { layer, consts: g.origins.get(layer.key)!.constValues };
      process.stderr.write(`${p.name}: dlprof variants…\n`);
      // Warm, as onnxruntime's session runs the one-layer model again and again.
      const m = await measureLayer(runner, timer, c, { timing: { ...DEFAULT_TIMING, budgetMs }, conditions: 'warm', autotune });
      const best = bestVariant(m.variants);
      const bestName = best && `${best.variant}${best.config ? ` ${configText(best.config)}` : ''}`;
      const def = m.variants.find((v) => v.variant === m.defaultVariant && !v.config && v.status === 'completed');
      const problems = m.variants.filter((v) => v.status === 'mismatch' || v.status === 'errored').map((v) => `${v.variant}: ${v.status}`);
      process.stderr.write(`${p.name}: onnxruntime webgpu…\n`);
      const bytes = layerModel({ layer, counts: [1], nodes: [[]] }, [g]);
      const lf = path.join(dir, `${layer.key}.onnx`);
      fs.writeFileSync(lf, bytes);
      const s = await ort.InferenceSession.create(lf, { executionProviders: ['cpu'] });
      const inputs = new Map<string, HostTensor>(s.inputNames.map((name) => {
        const t = layer.inputs[Number(name.split('_')[1])]!;
        const n = t.shape.reduce((a, b) => a * b, 1);
        return [name, { dtype: 'float32', shape: t.shape, data: Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5) }];
      }));
      await s.release();
      const ours = best?.stats?.median;
      let theirs: { ms: number; addedMs: number; programs: string[] } | undefined;
      try {
        if (!(ours !== undefined && ours > 0)) throw new Error(`dlprof's best variant timed ${ours ?? 'nothing'}${best ? ` ms (${best.variant})` : ''}: not a time`);
        theirs = await ortKernelTime(lf, layer.op, inputs, runs);
      } catch (e) {
        failures++;
        rows.push([p.name, best && ours ? `${bestName} ${ours.toFixed(3)}` : 'none', def ? def.stats!.median.toFixed(3) : '—', 'ERROR', '—', '—', `${(e as Error).message}${problems.length ? `; ${problems.join(', ')}` : ''}`]);
        continue;
      }
      const ratio = theirs.ms / ours;
      ratios.push(ratio);
      rows.push([p.name, `${bestName} ${ours.toFixed(3)}`, def ? def.stats!.median.toFixed(3) : '—',
        `${theirs.ms.toFixed(3)} (${theirs.programs.join('+')})`, ratio.toFixed(2),
        `${((layer.flops / ours) / 1e6).toFixed(2)}`, [theirs.addedMs > 0 ? `onnxruntime adds ${theirs.addedMs.toFixed(3)} ms of layout kernels` : '', ...problems].filter(Boolean).join(', ')]);
    }
  } finally {
    runner.destroy();
    closeGpu(ctx);
  }
  const head = ['layer', 'dlprof best (ms)', 'dlprof default (ms)', 'onnxruntime webgpu kernels (ms)', 'ort/dlprof', 'dlprof GFLOP/s', 'notes'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(`bench:kernels on ${ctx.info.description} (${ctx.info.backend}); onnxruntime-node ${ort.env.versions?.common ?? ''}; autotune ${autotune}`);
  console.log(head.map((h, i) => h.padEnd(widths[i])).join('  '));
  for (const r of rows) console.log(r.map((x, i) => x.padEnd(widths[i])).join('  '));
  console.log(`GPU kernel time on both sides (median ms); geometric mean of ort/dlprof: ${ratios.length ? geomean(ratios).toFixed(2) : '—'} over ${ratios.length} layers (> 1: dlprof's best variant is faster)${failures ? `; ${failures} layer${failures === 1 ? '' : 's'} in error` : ''}`);
  fs.rmSync(dir, { recursive: true, force: true });
  if (failures) process.exitCode = 1;
}

await main();
