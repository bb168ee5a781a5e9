/**
 * `npm run bench:kernels`: dlprof's kernels against onnxruntime's WebGPU execution provider, side by
 * side in one run on the same adapter, on a fixed set of layers taken from the bundled models.
 *
 * dlprof: every variant is checked against the reference and timed with GPU timestamps; the best
 * variant's median counts (the default variant is shown too).
 * onnxruntime: the layer as a single-node model on the `webgpu` EP, median wall time of
 * session.run minus the median of an "empty" model with the same inputs and outputs (each input is
 * read by a 1-element Slice, each output written by ConstantOfShape), so uploads, downloads and
 * per-run overhead cancel and what remains is its kernel time.
 * Prints each ratio (onnxruntime / dlprof: > 1 means dlprof is faster) and their geometric mean.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { buildModelBytes } from '../models/index.js';
import { DEFAULT_TIMING, Timer } from '../src/bench/harness.js';
import { bestVariant, measureLayer } from '../src/bench/measure.js';
import { geomean, summarize } from '../src/bench/stats.js';
import { closeGpu, openGpu } from '../src/gpu/device.js';
import { KernelRunner } from '../src/gpu/run.js';
import type { ModelGraph } from '../src/ir/graph.js';
import { processModel } from '../src/ir/process.js';
import type { Layer } from '../src/ir/types.js';
import type { LayerCase } from '../src/kernels/types.js';
import { GraphBuilder } from '../src/onnx/write.js';
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

const ORT_RUNS = 15;

/** A model with the layer model's inputs and outputs that does (almost) nothing. */
function emptyModel(layer: Layer, graphInputs: string[]): Uint8Array {
  const g = new GraphBuilder('empty');
  // The same graph inputs as the layer model (constants it embeds are not inputs).
  layer.inputs.forEach((t, i) => {
    const name = `input_${i}`;
    if (!t || !graphInputs.includes(name)) return;
    g.input(name, t.dtype, t.shape);
    const starts = g.ints('starts', t.shape.map(() => 0));
    const ends = g.ints('ends', t.shape.map(() => 1));
    g.output(g.op('Slice', [name, starts, ends], {}, { output: `touch_${i}` }), t.dtype);
  });
  layer.outputs.forEach((t, i) => {
    const shape = g.ints('shape', t.shape);
    g.op('ConstantOfShape', [shape], { value: { dtype: t.dtype, shape: [1], data: [0] } }, { output: `output_${i}` });
    g.output(`output_${i}`, t.dtype, t.shape);
  });
  return g.toBytes({ '': 17 });
}

async function ortTime(file: string, layer: Layer, inputs: string[]): Promise<number> {
  const s = await ort.InferenceSession.create(file, { executionProviders: ['webgpu'] });
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of inputs) {
    const t = layer.inputs[Number(name.split('_')[1])]!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    feeds[name] = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), t.shape);
  }
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < ORT_RUNS; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    times.push(performance.now() - t0);
  }
  await s.release();
  return summarize(times).median;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-bench-kernels-'));
  const graphs = new Map<string, ModelGraph>();
  const graphOf = (p: Pick): ModelGraph => {
    let g = graphs.get(p.model);
    if (!g) {
      const file = path.join(dir, `${p.model}.onnx`);
      fs.writeFileSync(file, buildModelBytes(p.model));
      g = processModel(file, { dims: new Map(Object.entries(p.dims ?? {})), shapes: new Map() });
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
    for (const p of PICKS) {
      const g = graphOf(p);
      const layer = [...g.layers.values()].find(p.match);
      if (!layer) { rows.push([p.name, 'layer not found in model', '', '', '', '', '']); continue; }
      const c: LayerCase = { layer, consts: g.origins.get(layer.key)!.constValues };
      process.stderr.write(`${p.name}: dlprof variants…\n`);
      // Warm, as onnxruntime's session runs the one-layer model again and again.
      const m = await measureLayer(runner, timer, c, { timing: { ...DEFAULT_TIMING, budgetMs: 4000 }, conditions: 'warm' });
      const best = bestVariant(m.variants);
      const def = m.variants.find((v) => v.variant === m.defaultVariant && v.status === 'completed');
      const problems = m.variants.filter((v) => v.status === 'mismatch' || v.status === 'errored').map((v) => `${v.variant}: ${v.status}`);
      process.stderr.write(`${p.name}: onnxruntime webgpu…\n`);
      const bytes = layerModel({ layer, counts: [1], nodes: [[]] }, [g]);
      const lf = path.join(dir, `${layer.key}.onnx`);
      fs.writeFileSync(lf, bytes);
      const s = await ort.InferenceSession.create(lf, { executionProviders: ['cpu'] });
      const inputs = [...s.inputNames];
      await s.release();
      const ef = path.join(dir, `${layer.key}-empty.onnx`);
      fs.writeFileSync(ef, emptyModel(layer, inputs));
      const ortFull = await ortTime(lf, layer, inputs);
      const ortEmpty = await ortTime(ef, layer, inputs);
      const ortKernel = Math.max(ortFull - ortEmpty, 1e-3);
      const ratio = best ? ortKernel / best.stats!.median : NaN;
      if (best) ratios.push(ratio);
      rows.push([p.name, best ? `${best.variant} ${best.stats!.median.toFixed(3)}` : 'none', def ? def.stats!.median.toFixed(3) : '—',
        `${ortKernel.toFixed(3)} (${ortFull.toFixed(2)} − ${ortEmpty.toFixed(2)})`, Number.isFinite(ratio) ? ratio.toFixed(2) : '—',
        `${((layer.flops / (best?.stats?.median ?? NaN)) / 1e6).toFixed(2)}`, problems.join(', ')]);
    }
  } finally {
    timer.destroy();
    closeGpu(ctx);
  }
  const head = ['layer', 'dlprof best (ms)', 'dlprof default (ms)', 'onnxruntime webgpu (ms)', 'ort/dlprof', 'dlprof GFLOP/s', 'notes'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(`bench:kernels on ${ctx.info.description} (${ctx.info.backend}); onnxruntime-node ${ort.env.versions?.common ?? ''}`);
  console.log(head.map((h, i) => h.padEnd(widths[i])).join('  '));
  for (const r of rows) console.log(r.map((x, i) => x.padEnd(widths[i])).join('  '));
  console.log(`geometric mean of ort/dlprof: ${geomean(ratios).toFixed(2)} over ${ratios.length} layers (> 1: dlprof's best variant is faster)`);
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
