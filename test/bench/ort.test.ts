/**
 * onnxruntime's own GPU times: a real profile of resnet-tiny on its WebGPU execution provider
 * (lavapipe here), split into runs, kernel and host time, and matched to dlprof's layers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitFramework } from '../../src/analysis/framework.js';
import { modelInputs } from '../../src/bench/model.js';
import { ortProfile, parseOrtProfile, startOrtFramework, type OrtProfile } from '../../src/bench/ort.js';
import { trimmedMean } from '../../src/bench/stats.js';
import { loadGraph } from '../../src/kernels/model.js';
import { buildModelBytes } from '../../models/index.js';
import { fixture, noBindings, tempDir } from '../support/models.js';

interface Ev { cat: string; name: string; ts: number; dur: number; args?: Record<string, unknown> }

describe('onnxruntime WebGPU profile (real, on this adapter)', async () => {
  const file = fixture('resnet-tiny.onnx');
  const g = loadGraph(file, noBindings());
  const kept = path.join(tempDir(), 'ort-profile.json');
  const RUNS = 4;
  const profile: OrtProfile = await ortProfile(file, modelInputs(g), { runs: RUNS, warmup: 1, keep: kept });
  const events = JSON.parse(fs.readFileSync(kept, 'utf8')) as Ev[];
  const api = events.filter((e) => e.cat === 'Api');
  const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');

  it('splits the GPU kernel events into equal runs, the warm-up left out', () => {
    expect(modelRuns).toHaveLength(RUNS + 1);
    expect(profile.runs).toHaveLength(RUNS);
    expect(profile.dispatches * (RUNS + 1)).toBe(api.length);
    // Every conv, pool, add, relu and the head dispatch at least one kernel; BatchNormalization is folded into the convs.
    expect(profile.dispatches).toBeGreaterThanOrEqual(g.nodes.filter((n) => n.op !== 'BatchNormalization' && n.op !== 'Relu' && n.op !== 'Flatten').length);
    const last = api.slice(-profile.dispatches);
    expect(profile.runs.at(-1)!.kernels.map((k) => `${k.node}&${k.op}&${k.program}`)).toEqual(last.map((e) => e.name));
    expect(profile.runs.at(-1)!.kernels.map((k) => k.ms)).toEqual(last.map((e) => e.dur / 1000));
  });

  it("gives kernel time from the GPU timestamps and host time as the profiled run's wall time less it", () => {
    const sums = profile.runs.map((r) => r.kernels.reduce((a, k) => a + k.ms, 0));
    expect(profile.runs.map((r) => r.wallMs)).toEqual(modelRuns.slice(1).map((e) => e.dur / 1000));
    expect(profile.kernelMs).toBeCloseTo(trimmedMean(sums), 12);
    expect(profile.wallMs).toBeCloseTo(trimmedMean(profile.runs.map((r) => r.wallMs)), 12);
    expect(profile.hostMs).toBeCloseTo(profile.wallMs - profile.kernelMs, 12);
    expect(profile.kernelMs).toBeGreaterThan(0);
    expect(profile.hostMs).toBeGreaterThan(0);
    for (const [i, r] of profile.runs.entries()) expect(sums[i]).toBeLessThanOrEqual(r.wallMs);
    // Per node: the mean of its kernels over the runs, summing to the mean kernel time.
    const mean = sums.reduce((a, b) => a + b, 0) / sums.length;
    expect(profile.nodes.reduce((a, n) => a + n.kernelMs, 0)).toBeCloseTo(mean, 9);
  });

  it("matches onnxruntime's nodes to dlprof's layers, fused ones with the node that computes them", () => {
    const layerMs = (id: number): number => 0.001 * (id + 1);
    const run = { provider: 'webgpu', medianMs: profile.wallMs, trimmedMeanMs: profile.wallMs, minMs: profile.wallMs, runs: RUNS };
    const split = splitFramework(g, run, profile, layerMs, 0.002);
    const conv1 = split.nodes.find((n) => n.name.startsWith('/conv1/Conv'))!;
    expect(conv1.programs.length).toBeGreaterThan(0);
    // Conv → BatchNormalization → Relu: one onnxruntime kernel for three layers.
    const ids = ['/conv1/Conv', '/bn1/BatchNormalization', '/relu/Relu'].map((l) => g.nodes.find((n) => n.label === l)!.id);
    expect(conv1.layers).toEqual(ids.map((i) => g.nodes[i].label));
    expect(conv1.dlprofMs).toBeCloseTo(ids.reduce((a, i) => a + layerMs(i), 0), 12);
    expect(conv1.inRunMs).toBeCloseTo(conv1.dispatches * Math.max(conv1.kernelMs / conv1.dispatches - 0.002, conv1.kernelMs / conv1.dispatches / 10), 12);
    // Every layer of the model is covered by exactly one onnxruntime node; the nodes it added (layout transposes) cover none.
    const all = split.nodes.flatMap((n) => n.layers);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(g.nodes.length);
    const added = split.nodes.filter((n) => !n.layers.length);
    expect(added.every((n) => n.op === 'Transpose')).toBe(true);
    expect(split.addedKernelMs).toBeCloseTo(added.reduce((a, n) => a + n.kernelMs, 0), 12);
    expect(split.kernelMs).toBe(profile.kernelMs);
    expect(split.hostMs).toBe(profile.hostMs);
  });

  it("matches a node onnxruntime fused under a new name ('…/MatMul/MatMulAddFusion') to the layers it computes", async () => {
    const f = path.join(tempDir(), 'sparse-dnn-tiny.onnx');
    fs.writeFileSync(f, buildModelBytes('sparse-dnn-tiny'));
    const sg = loadGraph(f, { dims: new Map([['batch', 1]]), shapes: new Map() });
    const p = await ortProfile(f, modelInputs(sg), { runs: 2, warmup: 1 });
    const run = { provider: 'webgpu', medianMs: p.wallMs, trimmedMeanMs: p.wallMs, minMs: p.wallMs, runs: 2 };
    const split = splitFramework(sg, run, p, () => 0.001, 0);
    const fused = split.nodes.filter((n) => n.name.endsWith('/MatMulAddFusion'));
    expect(fused).toHaveLength(sg.nodes.filter((n) => n.op === 'MatMul').length);
    for (const n of fused) {
      const base = n.name.slice(0, -'/MatMulAddFusion'.length);
      expect(n.layers).toEqual([base, base.replace(/MatMul$/, 'Add')]);
    }
    // Every layer is covered once; nothing is left to onnxruntime's added nodes.
    expect(split.nodes.flatMap((n) => n.layers).sort()).toEqual(sg.nodes.map((n) => n.label).sort());
  });

  it('takes 3 profiled runs at least, and more only within the profile budget', async () => {
    const few = await ortProfile(file, modelInputs(g), { runs: 6, warmup: 1, profileBudgetMs: 0 });
    expect(few.runs).toHaveLength(3);
    expect(few.dispatches).toBe(profile.dispatches);
  });

  it("reports a model onnxruntime's process cannot load with onnxruntime's error, and is ready all the same", async () => {
    const bad = path.join(tempDir(), 'not-a-model.onnx');
    fs.writeFileSync(bad, 'not an ONNX model');
    const r = startOrtFramework(bad, modelInputs(g), { runs: 1 });
    await expect(r.ready).resolves.toBeUndefined();
    await expect(r.measure()).rejects.toThrow(/not-a-model\.onnx.*(protobuf|parse)|(protobuf|parse).*not-a-model\.onnx/i);
  });

  it('ends its process and leaves no profile behind when closed unmeasured', async () => {
    const tmp = path.join(tempDir(), 'ort-tmp');
    fs.mkdirSync(tmp);
    const before = process.env.TMPDIR;
    process.env.TMPDIR = tmp; // the child's os.tmpdir(), where its profile folder goes
    try {
      const r = startOrtFramework(file, modelInputs(g), { runs: 1 });
      await r.ready;
      const profiles = (): string[] => fs.readdirSync(tmp).filter((f) => f.startsWith('dlprof-ort-'));
      expect(profiles()).toHaveLength(1);
      await r.close();
      expect(profiles()).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
    }
  });

  it('refuses a profile whose kernels do not repeat run after run, or that has none', () => {
    const noKernels = events.filter((e) => e.cat !== 'Api');
    expect(() => parseOrtProfile(noKernels, 1)).toThrow(/no GPU kernel events/);
    const oneMissing = events.filter((e) => e !== api[3]);
    expect(() => parseOrtProfile(oneMissing, 1)).toThrow(/do not divide into 5 runs/);
    const swapped = events.map((e) => (e === api[api.length - 1] ? { ...e, name: api[0].name } : e));
    expect(() => parseOrtProfile(swapped, 1)).toThrow(/run 5 dispatched/);
    const slowKernel = events.map((e) => (e === api[api.length - 1] ? { ...e, dur: 1e9 } : e));
    expect(() => parseOrtProfile(slowKernel, 1)).toThrow(/more than the run's/);
  });
});
