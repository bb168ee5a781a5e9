/**
 * BatchNormalization (inference), LayerNormalization, InstanceNormalization and
 * GroupNormalization: every variant against the reference (vec4 and odd rows, statistics outputs,
 * float16, per-group and per-channel GroupNorm affine) and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { float } from '../../src/onnx/write.js';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { casesFrom, checkCaseWith, releaseGpu, type VariantCheck } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runConformanceCase, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

/** Variances must be positive: input 4 of BatchNormalization becomes |v| + 0.1. */
const positiveVar = (c: LayerCase) => (t: HostTensor, i: number): HostTensor =>
  (c.layer.op === 'BatchNormalization' && i === 4 ? { ...t, data: (t.data as Float32Array).map((v) => Math.abs(v) + 0.1) } : t);

async function agree(c: LayerCase): Promise<VariantCheck[]> {
  const r = await checkCaseWith(c, positiveVar(c));
  for (const v of r) {
    if (v.supported) expect(v.agreement?.ok, `${c.layer.op} [${c.layer.inputs[0]!.shape}] ${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  }
  return r;
}

const ran = (r: VariantCheck[]): string[] => r.filter((v) => v.supported).map((v) => v.variant);

describe('BatchNormalization', () => {
  it('naive and fused-affine, vec4 and odd spatial sizes, float16', async () => {
    for (const [shape, dtype] of [[[2, 3, 5, 4], 'float32'], [[2, 3, 5], 'float32'], [[4, 6], 'float32'], [[1, 8, 6, 6], 'float16']] as Array<[number[], 'float32' | 'float16']>) {
      const [c] = casesFrom((g) => {
        g.input('x', dtype, shape);
        const ch = shape[1];
        g.output(g.op('BatchNormalization', ['x', ...['s', 'b', 'm', 'v'].map((n) => g.init(n, dtype, [ch]))], { epsilon: float(1e-3) }), dtype);
      });
      expect(ran(await agree(c))).toEqual(['naive', 'fused-affine']);
    }
  });
});

describe('LayerNormalization', () => {
  it('transformer-like rows (vec4), odd rows, a middle axis, no bias', async () => {
    const shapes: Array<[number[], number, boolean]> = [[[2, 20, 768], -1, true], [[2, 5, 33], -1, true], [[2, 3, 8], 1, true], [[3, 7, 12], -1, false]];
    for (const [shape, axis, bias] of shapes) {
      const [c] = casesFrom((g) => {
        g.input('x', 'float32', shape);
        const n = shape.slice(axis < 0 ? axis + shape.length : axis);
        const ins = ['x', g.init('s', 'float32', n)];
        if (bias) ins.push(g.init('b', 'float32', n));
        g.output(g.op('LayerNormalization', ins, { axis, epsilon: float(1e-5) }));
      });
      expect(ran(await agree(c))).toEqual(['two-pass', 'workgroup', 'subgroup']);
    }
  });
  it('Mean and InvStdDev outputs, and rows far from zero (shifted sums)', async () => {
    const [c] = casesFrom((g) => {
      g.input('x', 'float32', [4, 40]);
      const [y, m, inv] = g.node('LayerNormalization', ['x', g.init('s', 'float32', [40]), g.init('b', 'float32', [40])], {}, { outputs: 3 });
      g.output(y); g.output(m); g.output(inv);
    });
    expect(c.layer.outputs.length).toBe(3);
    await agree(c);
    // Mean 1000, spread ±1: the raw Σx² − (Σx)²/n would lose every digit of the variance in f32.
    const r = await checkCaseWith(c, (t, i) => (i === 0 ? { ...t, data: (t.data as Float32Array).map((v) => 1000 + v) } : t));
    for (const v of r) expect(v.agreement?.ok, `${v.variant}: ${JSON.stringify(v.agreement)}`).toBe(true);
  });
  it('without subgroups: the shared-memory tree', async () => {
    const [c] = casesFrom((g) => {
      g.input('x', 'float32', [3, 5, 200]);
      g.output(g.op('LayerNormalization', ['x', g.init('s', 'float32', [200]), g.init('b', 'float32', [200])]));
    });
    const r = await checkCaseWith(c, undefined, { subgroups: false });
    for (const v of r) if (v.supported) expect(v.agreement?.ok, `${v.variant} no subgroups`).toBe(true);
    expect(ran(r)).toEqual(['two-pass', 'workgroup']);
  });
  it('float16', async () => {
    const [c] = casesFrom((g) => {
      g.input('x', 'float16', [3, 64]);
      g.output(g.op('LayerNormalization', ['x', g.init('s', 'float16', [64]), g.init('b', 'float16', [64])]), 'float16');
    });
    await agree(c);
  });
});

describe('InstanceNormalization and GroupNormalization', () => {
  it('InstanceNormalization on odd and vec4 planes', async () => {
    for (const shape of [[2, 3, 7, 7], [1, 4, 8, 8], [2, 5, 9]]) {
      const [c] = casesFrom((g) => {
        g.input('x', 'float32', shape);
        g.output(g.op('InstanceNormalization', ['x', g.init('s', 'float32', [shape[1]]), g.init('b', 'float32', [shape[1]])], { epsilon: float(1e-4) }));
      });
      expect(ran(await agree(c))).toEqual(['two-pass', 'workgroup', 'subgroup']);
    }
  });
  it('GroupNormalization with per-group (opset 18) and per-channel (opset 21) affine', async () => {
    const [g18] = casesFrom((g) => {
      g.input('x', 'float32', [2, 6, 4, 4]);
      g.output(g.op('GroupNormalization', ['x', g.init('s', 'float32', [3]), g.init('b', 'float32', [3])], { num_groups: 3 }));
    }, { '': 18 });
    const [g21] = casesFrom((g) => {
      g.input('x', 'float32', [2, 6, 5, 3]);
      g.output(g.op('GroupNormalization', ['x', g.init('s', 'float32', [6]), g.init('b', 'float32', [6])], { num_groups: 2 }));
    }, { '': 21 });
    await agree(g18);
    await agree(g21);
  });
});

describe('normalization ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization']), runConformanceCase, { dataFallback: true });
    printTally('normalization', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('LayerNormalization')!.pass).toBeGreaterThanOrEqual(40);
  });
});
