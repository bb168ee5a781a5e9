/**
 * LpPool, GlobalLpPool, MeanVarianceNormalization and the generators (ConstantOfShape, EyeLike,
 * Range) against the reference, and ONNX's conformance cases. Small generators fold to constants
 * at load time (no layer), so the generator cases here are just above the folding limit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { DType } from '../../src/onnx/dtype.js';
import type { AttrInput } from '../../src/onnx/write.js';
import { MAX_FOLD_ELEMENTS } from '../../src/onnx/tensor.js';
import { agree, casesFrom, gpu, inputsFor, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, rebuiltLayer, runOpConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function one(op: string, shape: number[], attrs: Record<string, AttrInput> = {}, dtype: DType = 'float32'): LayerCase {
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    g.output(g.op(op, ['x'], attrs), dtype);
  })[0];
}

describe('extra kernels against the reference', () => {
  it('LpPool (p 1, 2, 3; pads, strides, dilations; 1-D and 2-D) and GlobalLpPool', async () => {
    expect(await agree(one('LpPool', [2, 3, 7, 6], { kernel_shape: [3, 2], pads: [1, 0, 1, 1], strides: [2, 1], p: 2 }))).toEqual(['naive']);
    expect(await agree(one('LpPool', [1, 4, 9], { kernel_shape: [3], dilations: [2], p: 1 }))).toEqual(['naive']);
    expect(await agree(one('LpPool', [1, 2, 5, 5], { kernel_shape: [2, 2], p: 3 }))).toEqual(['naive']);
    expect(await agree(one('GlobalLpPool', [2, 3, 4, 5], { p: 2 }))).toEqual(['naive']);
    expect(await agree(one('LpPool', [1, 2, 6, 6], { kernel_shape: [3, 3], strides: [2, 2] }, 'float16'))).toEqual(['naive']);
    // √(3² + 4²) = 5 over a 1×2 window.
    const c = one('LpPool', [1, 1, 1, 2], { kernel_shape: [1, 2] });
    const y = kernelFor('LpPool')!.reference(c, [{ dtype: 'float32', shape: [1, 1, 1, 2], data: Float32Array.of(3, -4) }]);
    expect([...y[0].data]).toEqual([5]);
  });

  it('MaxUnpool: indices from a real max-pool (overlapping windows, pads), output_shape, stray indices ignored', async () => {
    const unpool = (x: number[], attrs: Record<string, AttrInput>, outShape?: number[]) => casesFrom((g) => {
      g.input('x', 'float32', x);
      g.input('i', 'int64', x);
      g.output(g.op('MaxUnpool', ['x', 'i', ...(outShape ? [g.ints('o', outShape)] : [])], attrs), 'float32');
    })[0];
    /** MaxPool's flat argmax indices for input [N, C, H, W] pooled to the case's X shape. */
    const argmax = (c: LayerCase, src: Float32Array): HostTensor => {
      const [N, C, h, w] = c.layer.inputs[0]!.shape;
      const [, , H, W] = c.layer.outputs[0].shape;
      const k = c.layer.attrs.kernel_shape as number[], s = c.layer.attrs.strides as number[], p = c.layer.attrs.pads as number[];
      const out = new Int32Array(N * C * h * w);
      for (let pl = 0; pl < N * C; pl++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            let best = -Infinity, bi = 0;
            for (let a = 0; a < k[0]; a++) {
              for (let b = 0; b < k[1]; b++) {
                const yy = y * s[0] - p[0] + a, xx = x * s[1] - p[1] + b;
                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                const v = src[pl * H * W + yy * W + xx];
                if (v > best) { best = v; bi = pl * H * W + yy * W + xx; }
              }
            }
            out[(pl * h + y) * w + x] = bi;
          }
        }
      }
      return { dtype: 'int64', shape: [N, C, h, w], data: out };
    };
    for (const [x, attrs, outShape] of [
      [[2, 3, 4, 5], { kernel_shape: [2, 2], strides: [2, 2] }, undefined],
      [[1, 2, 4, 4], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, undefined],
      [[1, 1, 3, 3], { kernel_shape: [3, 3], strides: [1, 1] }, [1, 1, 5, 5]],
    ] as Array<[number[], Record<string, AttrInput>, number[] | undefined]>) {
      const c = unpool(x, attrs, outShape);
      const [, , H, W] = c.layer.outputs[0].shape;
      const src = Float32Array.from({ length: x[0] * x[1] * H * W }, (_, i) => Math.sin(i * 1.7));
      const ins = inputsFor(c);
      ins[1] = argmax({ ...c, layer: { ...c.layer, attrs: { kernel_shape: [2, 2], strides: [1, 1], pads: [0, 0, 0, 0], ...c.layer.attrs } } }, src);
      expect(await agree(c, ins), JSON.stringify(attrs)).toEqual(['owner-computes']);
      // Synthetic indices (0/1, mostly outside their windows) are ignored alike by kernel and reference.
      expect(await agree(c), `${JSON.stringify(attrs)} synthetic`).toEqual(['owner-computes']);
    }
  });

  it('MeanVarianceNormalization: default axes, other axes, a constant slice', async () => {
    expect(await agree(one('MeanVarianceNormalization', [2, 3, 4, 5]))).toEqual(['two-pass']);
    expect(await agree(one('MeanVarianceNormalization', [3, 4, 6], { axes: [1, 2] }))).toEqual(['two-pass']);
    expect(await agree(one('MeanVarianceNormalization', [2, 3, 4, 4], {}, 'float16'))).toEqual(['two-pass']);
    const c = one('MeanVarianceNormalization', [2, 8], { axes: [1] });
    const x: HostTensor = { dtype: 'float32', shape: [2, 8], data: Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? 0.5 : i)) };
    expect(await agree(c, [x])).toEqual(['two-pass']);
    expect([...kernelFor('MeanVarianceNormalization')!.reference(c, [x])[0].data.slice(0, 8)]).toEqual(new Array(8).fill(0));
  });

  it('generators: ConstantOfShape, EyeLike, Range (above the folding limit)', async () => {
    const big = [Math.ceil((MAX_FOLD_ELEMENTS + 1) / 256), 256];
    const cos = (value: number, dtype: DType) => casesFrom((g) => {
      g.output(g.op('ConstantOfShape', [g.ints('s', big)], { value: { dtype, shape: [1], data: [value] } }), dtype);
    })[0];
    expect(await agree(cos(2.5, 'float32'))).toEqual(['naive']);
    expect(await agree(cos(-7, 'int64'))).toEqual(['naive']);
    const eye = (k: number, dtype?: number) => casesFrom((g) => {
      g.input('x', 'int32', big);
      g.output(g.op('EyeLike', ['x'], { k, ...(dtype ? { dtype } : {}) }), 'float32');
    })[0];
    expect(await agree(eye(3, 1))).toEqual(['naive']);
    expect(await agree(eye(-5))).toEqual(['naive']);
    const n = MAX_FOLD_ELEMENTS + 100;
    const rf = casesFrom((g) => {
      const s = g.init('s', 'float32', [], Float32Array.of(-3));
      const l = g.init('l', 'float32', [], Float32Array.of(-3 + 0.25 * n));
      const d = g.init('d', 'float32', [], Float32Array.of(0.25));
      g.output(g.op('Range', [s, l, d]), 'float32');
    })[0];
    expect(rf.layer.outputs[0].shape).toEqual([n]);
    expect(await agree(rf)).toEqual(['naive']);
    const ri = casesFrom((g) => {
      g.output(g.op('Range', [g.ints('s', [100], []), g.ints('l', [100 - 3 * n], []), g.ints('d', [-3], [])]), 'int64');
    })[0];
    expect(await agree(ri)).toEqual(['naive']);
  });

  it('unsupported layers say why', async () => {
    const { runner } = await gpu();
    const c = one('MeanVarianceNormalization', [2, 3, 4], { axes: [0, 5] });
    expect(kernelFor('MeanVarianceNormalization')!.supports(c, 'two-pass', runner.caps)).toEqual({ ok: false, reason: 'axes [0,5] do not fit rank 3' });
  });
});

describe('extra ONNX conformance', () => {
  it('generator cases, rebuilt as layers', async () => {
    const names = conformanceCasesFor(['ConstantOfShape', 'EyeLike', 'Range']);
    for (const name of names) await rebuiltLayer(name);
    expect(names.length).toBe(8);
  }, 120_000);

  it('every case that is a layer passes', async () => {
    const ops = ['LpPool', 'GlobalLpPool', 'MeanVarianceNormalization', 'MaxUnpool', 'ConstantOfShape', 'EyeLike', 'Range'];
    const names = conformanceCasesFor(ops);
    // MaxUnpool's output_shape is a constant in a model.
    const t = await tallyConformance(names, (n) => runOpConformance(n, n.startsWith('test_maxunpool') ? [2] : [], { f64AsF32: true }));
    printTally('extra', t);
    expect(t.failed).toEqual([]);
    // test_mvn and the two MaxUnpool cases: reference and kernel each; the generator cases fold
    // (no layer) and run rebuilt above.
    expect(t.passed).toBe(6);
  }, 120_000);
});
