import { describe, expect, it } from 'vitest';
import { findFusions } from '../../src/analysis/fusion.js';
import { processModel } from '../../src/ir/process.js';
import { fixture } from '../support/models.js';

const ops = (g: ReturnType<typeof processModel>, ids: number[]) => ids.map((i) => g.nodes[i].op);

describe('fusable chains', () => {
  it('finds Conv → BN → (Add) → Relu in a ResNet', () => {
    const g = processModel(fixture('resnet-tiny.onnx'), { dims: new Map(), shapes: new Map() });
    const groups = findFusions(g);
    const chains = groups.filter((f) => f.kind === 'conv-bn-act').map((f) => ops(g, f.nodes).join('→'));
    expect(chains).toContain('Conv→BatchNormalization→Relu');
    expect(chains).toContain('Conv→BatchNormalization→Add→Relu');
    // Every conv belongs to a group; no node is in two.
    const all = groups.flatMap((f) => f.nodes);
    expect(new Set(all).size).toBe(all.length);
    expect(g.nodes.filter((n) => n.op === 'Conv').every((n) => all.includes(n.id))).toBe(true);
  });

  it('finds MatMul → bias → GELU and the attention chain in a ViT', () => {
    const g = processModel(fixture('vit-tiny.onnx'), { dims: new Map([['batch', 1]]), shapes: new Map() });
    const groups = findFusions(g);
    const byKind = (k: string) => groups.filter((f) => f.kind === k).map((f) => ops(g, f.nodes).join('→'));
    expect(byKind('attention')).toContain('MatMul→Mul→Softmax→MatMul');
    expect(byKind('gemm-bias-act')).toContain('MatMul→Add→Div→Erf→Add→Mul→Mul');
  });
});

describe('fused layer cases', () => {
  it('build FusedConv with folded-BN bias, residual and activation', async () => {
    const { fusedCase } = await import('../../src/analysis/fused-layers.js');
    const g = processModel(fixture('resnet-tiny.onnx'), { dims: new Map(), shapes: new Map() });
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
    const g = processModel(fixture('vit-tiny.onnx'), { dims: new Map([['batch', 1]]), shapes: new Map() });
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
