/**
 * Suggestions for sparse layers (src/analysis/suggest.ts): measured sparse-linear groups whose best
 * kernel is sparse become one 'sparsity' suggestion per kernel with the summed measured saving;
 * those best run dense stay fusion suggestions (a lone MatMul has nothing to fuse).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toBytes } from '../../models/common.js';
import { buildSparseDNN, SPARSE_DNN_TINY } from '../../models/sparse-dnn.js';
import { findFusions } from '../../src/analysis/fusion.js';
import { suggest } from '../../src/analysis/suggest.js';
import { loadGraph } from '../../src/kernels/model.js';
import { tempDir } from '../support/models.js';

describe('sparsity suggestions', () => {
  const file = path.join(tempDir(), 'suggest-sparse-dnn.onnx');
  fs.writeFileSync(file, toBytes(buildSparseDNN(SPARSE_DNN_TINY)));
  const g = loadGraph(file, { dims: new Map([['batch', 2]]), shapes: new Map() });
  const groups = findFusions(g);
  const base = { graph: g, times: new Map(), sequentialLowerBoundMs: 10, parallelLowerBoundMs: 10, criticalPath: g.nodes.map((n) => n.id), measuredMs: 20 };

  it('sum the measured savings of the layers a sparse kernel wins, per kernel', () => {
    const fusions = groups.map((f, i) => ({ kind: f.kind, nodes: f.nodes, unfusedMs: 3, fusedMs: i < 3 ? 1 : 2.5, variant: i < 3 ? 'ell-fused' : 'dense' }));
    const s = suggest({ ...base, fusions });
    const sp = s.filter((x) => x.kind === 'sparsity');
    expect(sp).toHaveLength(1);
    expect(sp[0].savingMs).toBeCloseTo(6, 10);
    expect(sp[0].savingPct).toBeCloseTo(30, 10);
    expect(sp[0].message).toContain("'ell-fused'");
    expect(sp[0].message).toContain('3 layers');
    expect(sp[0].nodes).toHaveLength(12); // 3 chains × 4 nodes
    // The layer best run dense is a fusion (4 nodes into one kernel), not a sparsity win.
    const fu = s.filter((x) => x.kind === 'fusion');
    expect(fu).toHaveLength(1);
    expect(fu[0].savingMs).toBeCloseTo(0.5, 10);
    expect(s[0].kind).toBe('sparsity'); // ranked by saving
  });

  it('suggest nothing when the sparse kernel is slower, or for a lone MatMul best run dense', () => {
    const slower = groups.map((f) => ({ kind: f.kind, nodes: f.nodes, unfusedMs: 1, fusedMs: 2, variant: 'csr' }));
    expect(suggest({ ...base, fusions: slower }).filter((x) => x.kind === 'sparsity' || x.kind === 'fusion')).toEqual([]);
    const lone = [{ kind: 'sparse-linear', nodes: [groups[0].nodes[0]], unfusedMs: 2, fusedMs: 1, variant: 'dense' }];
    expect(suggest({ ...base, fusions: lone }).filter((x) => x.kind === 'fusion')).toEqual([]);
  });
});

describe('framework-overhead suggestion', () => {
  const file = path.join(tempDir(), 'suggest-framework.onnx');
  fs.writeFileSync(file, toBytes(buildSparseDNN(SPARSE_DNN_TINY)));
  const g = loadGraph(file, { dims: new Map([['batch', 2]]), shapes: new Map() });
  const base = { graph: g, times: new Map(), sequentialLowerBoundMs: 10, parallelLowerBoundMs: 10, criticalPath: g.nodes.map((n) => n.id), measuredMs: 20 };

  it("gives the saving as a share of onnxruntime's time, the latency it saves from (never past 100 %)", () => {
    const [f] = suggest({ ...base, framework: { wallMs: 50 } }).filter((x) => x.kind === 'framework-overhead');
    expect(f.savingMs).toBeCloseTo(30, 10);
    expect(f.savingPct).toBeCloseTo(60, 10); // 30 of onnxruntime's 50 ms; 150 % of dlprof's 20 ms
    expect(f.message).toContain("60 % of onnxruntime's time");
    expect(f.message).toContain('not told apart'); // no GPU times from its profile
    expect(suggest({ ...base, framework: { wallMs: 15 } }).some((x) => x.kind.startsWith('framework'))).toBe(false); // onnxruntime faster: nothing to save
  });

  it("splits onnxruntime's extra time into kernel choice and host overhead by its GPU kernel times", () => {
    // onnxruntime: 50 ms a run, its kernels 26 ms as parts of a run; dlprof: 20 ms measured, 18 ms of layers.
    const framework = { wallMs: 50, kernelInRunMs: 26, hostMs: 31, profiledWallMs: 58, dispatches: 40 };
    const s = suggest({ ...base, framework, dlprofKernelMs: 18 });
    const k = s.find((x) => x.kind === 'framework-kernels')!;
    const h = s.find((x) => x.kind === 'framework-overhead')!;
    expect(k.savingMs).toBeCloseTo(8, 10); // 26 − 18
    expect(h.savingMs).toBeCloseTo(22, 10); // (50 − 20) − 8: the rest of the difference
    expect(k.savingMs + h.savingMs).toBeCloseTo(50 - 20, 10);
    expect(k.savingPct).toBeCloseTo(16, 10);
    expect(k.message).toMatch(/^Kernel choice/);
    expect(h.message).toMatch(/^Host overhead/);
    expect(h.message).toContain('31.00 of 58.00 ms outside GPU kernels');
    // onnxruntime's kernels faster than dlprof's: all of the difference is host time.
    const faster = suggest({ ...base, framework: { ...framework, kernelInRunMs: 10 }, dlprofKernelMs: 18 });
    expect(faster.some((x) => x.kind === 'framework-kernels')).toBe(false);
    expect(faster.find((x) => x.kind === 'framework-overhead')!.savingMs).toBeCloseTo(30, 10);
  });
});
