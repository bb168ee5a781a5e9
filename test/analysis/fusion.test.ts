import { describe, expect, it } from 'vitest';
import { findFusions } from '../../src/analysis/fusion.js';
import { loadGraph } from '../../src/kernels/model.js';
import fs from 'node:fs';
import path from 'node:path';
import type { GraphBuilder } from '../../src/onnx/write.js';
import { fixture, processBuilt, tempDir } from '../support/models.js';

const ops = (g: ReturnType<typeof loadGraph>, ids: number[]) => ids.map((i) => g.nodes[i].op);

describe('fusable chains', () => {
  it('finds Conv → BN → (Add) → Relu in a ResNet', () => {
    const g = loadGraph(fixture('resnet-tiny.onnx'), { dims: new Map(), shapes: new Map() });
    const groups = findFusions(g);
    const chains = groups.filter((f) => f.kind === 'conv-bn-act').map((f) => ops(g, f.nodes).join('→'));
    expect(chains).toContain('Conv→BatchNormalization→Relu');
    expect(chains).toContain('Conv→BatchNormalization→Add→Relu');
    // Every conv belongs to a group; no node is in two.
    const all = groups.flatMap((f) => f.nodes);
    expect(new Set(all).size).toBe(all.length);
    expect(g.nodes.filter((n) => n.op === 'Conv').every((n) => all.includes(n.id))).toBe(true);
  });

  it('fuses an activation exactly when its kernel declares an epilogue (one definition for finder and fused kernel)', () => {
    const chain = (act: string): string => {
      const g = processBuilt((b) => {
        const x = b.input('x', 'float32', [1, 4, 8, 8]);
        b.output(b.op(act, [b.op('Conv', [x, b.init('w', 'float32', [4, 4, 3, 3])], { pads: [1, 1, 1, 1] })]));
      });
      return findFusions(g).filter((f) => f.kind === 'conv-bn-act').map((f) => ops(g, f.nodes).join('→')).join(',');
    };
    // HardSwish has an epilogue (elementwise.ts); Elu and Softplus do not, so their conv stays alone (no group of one).
    expect(chain('HardSwish')).toBe('Conv→HardSwish');
    expect(chain('Elu')).toBe('');
    expect(chain('Softplus')).toBe('');
  });

  it('finds MatMul → bias → GELU and the attention chain in a ViT', () => {
    const g = loadGraph(fixture('vit-tiny.onnx'), { dims: new Map([['batch', 1]]), shapes: new Map() });
    const groups = findFusions(g);
    const byKind = (k: string) => groups.filter((f) => f.kind === k).map((f) => ops(g, f.nodes).join('→'));
    expect(byKind('attention')).toContain('MatMul→Mul→Softmax→MatMul');
    expect(byKind('gemm-bias-act')).toContain('MatMul→Add→Div→Erf→Add→Mul→Mul');
  });
});

describe('fused layer cases', () => {
  it('build FusedConv with folded-BN bias, residual and activation', async () => {
    const { fusedCase } = await import('../../src/analysis/fused-layers.js');
    const g = loadGraph(fixture('resnet-tiny.onnx'), { dims: new Map(), shapes: new Map() });
    const groups = findFusions(g);
    const withAdd = groups.find((f) => ops(g, f.nodes).join('→') === 'Conv→BatchNormalization→Add→Relu')!;
    const c = fusedCase(g, withAdd)!;
    expect(c.layer.op).toBe('dlprof.FusedConv');
    expect(c.layer.attrs.activation).toBe('Relu');
    const conv = g.layers.get(g.nodes[withAdd.nodes[0]].key)!;
    expect(c.layer.inputs[2]!.shape).toEqual([conv.inputs[1]!.shape[0]]); // BN becomes a bias
    expect(c.layer.inputs[3]!.shape).toEqual(c.layer.outputs[0].shape); // the residual
    expect(c.layer.key).toMatch(/^[0-9a-f]{16}$/);
  });

  it('build Attention with the exporter\'s scale and FusedMatMul with GELU', async () => {
    const { fusedCase } = await import('../../src/analysis/fused-layers.js');
    const g = loadGraph(fixture('vit-tiny.onnx'), { dims: new Map([['batch', 1]]), shapes: new Map() });
    const groups = findFusions(g);
    const att = fusedCase(g, groups.find((f) => f.kind === 'attention')!)!;
    expect(att.layer.op).toBe('dlprof.Attention');
    const d = att.layer.inputs[0]!.shape.at(-1)!;
    expect(att.layer.attrs.scale).toBeCloseTo(1 / Math.sqrt(d), 5);
    expect(att.layer.outputs[0].shape).toEqual([...att.layer.inputs[0]!.shape.slice(0, -1), att.layer.inputs[2]!.shape.at(-1)]);
    const mlp = groups.find((f) => ops(g, f.nodes).includes('Erf'))!;
    const fm = fusedCase(g, mlp)!;
    expect(fm.layer.op).toBe('dlprof.FusedMatMul');
    expect(fm.layer.attrs.activation).toBe('Gelu');
    expect(fm.layer.inputs[2]!.shape).toEqual([fm.layer.inputs[1]!.shape.at(-1)]);
  });
});

describe('sparse layers', () => {
  const bind = (b: number) => ({ dims: new Map([['batch', b]]), shapes: new Map<string, number[]>() });

  it('turn each challenge layer MatMul → Add → Relu → Min(32) into one SparseLinear with a clip to [0, 32]', async () => {
    const { fusedCase } = await import('../../src/analysis/fused-layers.js');
    const { buildSparseDNN, SPARSE_DNN_TINY } = await import('../../models/sparse-dnn.js');
    const { toBytes } = await import('../../models/common.js');
    const file = path.join(tempDir(), 'fusion-sparse-dnn.onnx');
    fs.writeFileSync(file, toBytes(buildSparseDNN(SPARSE_DNN_TINY)));
    const g = loadGraph(file, bind(5));
    const groups = findFusions(g);
    expect(groups.map((f) => f.kind)).toEqual(['sparse-linear', 'sparse-linear', 'sparse-linear', 'sparse-linear']);
    expect(groups.map((f) => ops(g, f.nodes).join('→'))).toEqual(Array(4).fill('MatMul→Add→Relu→Min'));
    const c = fusedCase(g, groups[0])!;
    expect(c.layer.op).toBe('dlprof.SparseLinear');
    expect(c.layer.attrs).toEqual({ activation: 'Clip', clip_max: 32, clip_min: 0, sparsity: 0.875, trans_b: 0 });
    expect(c.layer.inputs.map((t) => t?.shape)).toEqual([[5, 64], [64, 64], [64]]);
    expect(c.layer.outputs[0].shape).toEqual([5, 64]);
    // Useful work: 2·M·nnz + the bias, nnz = 8 per row.
    expect(c.layer.flops).toBe(2 * 5 * 64 * 8 + 5 * 64);
    expect(c.layer.weights[0]).toMatchObject({ input: 1, sparsity: 0.875, sparseInitializer: true });
    // The four layers are the same layer.
    expect(new Set(groups.map((f) => fusedCase(g, f)!.layer.key)).size).toBe(1);
  });

  /** A Gemm (transB, C) or MatMul on a dense initializer with `zeros` of it zero, then `tail`. */
  function denseSparse(zeros: number, gemm: boolean, tail: (g: GraphBuilder, y: string) => string) {
    return processBuilt((b) => {
      const x = b.input('x', 'float32', [4, 40]);
      const data = Float32Array.from({ length: 40 * 24 }, (_, i) => ((i * 37) % 100 < zeros * 100 ? 0 : 0.5 + (i % 7) / 10));
      const w = b.init('w', 'float32', gemm ? [24, 40] : [40, 24], data);
      const y = gemm ? b.op('Gemm', [x, w, b.init('c', 'float32', [24])], { transB: 1 }) : b.op('MatMul', [x, w]);
      b.output(tail(b, y));
    });
  }

  it('treat a mostly-zero dense weight as sparse: Gemm(C, transB) → Clip becomes a clipped SparseLinear', async () => {
    const { fusedCase } = await import('../../src/analysis/fused-layers.js');
    const g = denseSparse(0.9, true, (b, y) => b.op('Clip', [y, b.init('lo', 'float32', [], [-1]), b.init('hi', 'float32', [], [1])]));
    const [f] = findFusions(g);
    expect(f.kind).toBe('sparse-linear');
    expect(ops(g, f.nodes)).toEqual(['Gemm', 'Clip']);
    const c = fusedCase(g, f)!;
    expect(c.layer.attrs).toMatchObject({ activation: 'Clip', clip_min: -1, clip_max: 1, trans_b: 1, sparsity: 0.9 });
    expect(c.layer.inputs[2]!.shape).toEqual([24]); // Gemm's C is the bias
  });

  it('keep a lone sparse MatMul as a one-node group, and Max(0) → Min(6) as Clip [0, 6]', async () => {
    const { fusedCase } = await import('../../src/analysis/fused-layers.js');
    const lone = denseSparse(0.75, false, (_b, y) => y);
    const [f] = findFusions(lone);
    expect(f).toMatchObject({ kind: 'sparse-linear', nodes: [0] });
    expect(fusedCase(lone, f)!.layer.attrs).toMatchObject({ activation: 'none', sparsity: 0.75 });
    expect(fusedCase(lone, f)!.layer.inputs[2]).toBeNull();
    // An Add of a full [M, N] constant is not a bias: the sparse layer stops before it.
    const full = denseSparse(0.75, false, (b, y) => b.op('Relu', [b.op('Add', [y, b.init('full', 'float32', [4, 24])])]));
    expect(findFusions(full).map((x) => [x.kind, ops(full, x.nodes).join('→')])).toEqual([['sparse-linear', 'MatMul']]);
    const mm = denseSparse(0.75, false, (b, y) => b.op('Min', [b.op('Max', [y, b.init('z', 'float32', [], [0])]), b.init('six', 'float32', [], [6])]));
    const c = fusedCase(mm, findFusions(mm)[0])!;
    expect(c.layer.attrs).toMatchObject({ activation: 'Clip', clip_min: 0, clip_max: 6 });
  });

  it('leave a weight below the sparsity threshold to the dense fusion', () => {
    const g = denseSparse(0.3, false, (b, y) => b.op('Relu', [b.op('Add', [y, b.init('bias', 'float32', [24])])]));
    expect(findFusions(g).map((f) => [f.kind, ops(g, f.nodes).join('→')])).toEqual([['gemm-bias-act', 'MatMul→Add→Relu']]);
  });
});
