/**
 * Resize and Upsample: `naive` and `separable` against the reference — nearest in every
 * nearest_mode, linear and cubic in every coordinate transformation mode, up- and downscaling,
 * sizes and scales, exclude_outside and cubic_coeff_a, tf_crop_and_resize with extrapolation,
 * 1-D to 5-D, Resize-10 and Upsample (legacy nearest), int64 nearest and float16 — and ONNX's
 * conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/onnx/dtype.js';
import { agree, casesFrom, reasons, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runMovementConformance, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

interface Opts {
  scales?: number[];
  sizes?: number[];
  roi?: number[];
  attrs?: Record<string, number | string>;
  dtype?: DType;
  opset?: number;
}

function resize(shape: number[], o: Opts) {
  const dtype = o.dtype ?? 'float32';
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    const ins = ['x', o.roi ? g.init('roi', 'float32', [o.roi.length], o.roi) : ''];
    ins.push(o.scales ? g.init('sc', 'float32', [o.scales.length], o.scales) : '');
    if (o.sizes) ins.push(g.ints('sz', o.sizes));
    g.output(g.op('Resize', ins, o.attrs ?? {}), dtype);
  }, { '': o.opset ?? 13 })[0];
}

describe('resize', () => {
  // lavapipe compiles each pipeline with LLVM (0.1–0.6 s, cubic the slowest), so the modes are
  // covered by rotation rather than every combination; ONNX's conformance cases add more.
  it('nearest, every nearest_mode, up- and downscaling', async () => {
    const transforms = ['half_pixel', 'asymmetric', 'align_corners', 'pytorch_half_pixel'];
    for (const [i, nearest_mode] of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'].entries()) {
      const attrs = { mode: 'nearest', nearest_mode, coordinate_transformation_mode: transforms[i] };
      expect(await agree(resize([1, 2, 4, 5], { scales: [1, 1, 2, 1.5], attrs }))).toEqual(['naive']);
      await agree(resize([1, 1, 9, 7], { sizes: [1, 1, 3, 4], attrs: { ...attrs, coordinate_transformation_mode: transforms[3 - i] } }));
    }
  });
  it('linear and cubic in every coordinate transformation mode', async () => {
    const modes = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric'];
    for (const [i, coordinate_transformation_mode] of modes.entries()) {
      const attrs = { mode: i % 2 ? 'cubic' : 'linear', coordinate_transformation_mode };
      const c = i % 2 ? resize([1, 2, 4, 5], { scales: [1, 1, 2, 1.5], attrs }) : resize([2, 1, 7, 9], { sizes: [2, 1, 3, 4], attrs });
      expect(await agree(c)).toEqual(['naive', 'separable']);
    }
    expect(await agree(resize([1, 1, 7, 9], { sizes: [1, 1, 3, 4], attrs: { mode: 'cubic' } }))).toEqual(['naive', 'separable']);
  });
  it('exclude_outside, cubic_coeff_a, one interpolated axis, 5-D', async () => {
    await agree(resize([1, 1, 5, 6], { scales: [1, 1, 1.6, 0.5], attrs: { mode: 'cubic', exclude_outside: 1, cubic_coeff_a: -0.5 } }));
    await agree(resize([1, 1, 5, 6], { scales: [1, 1, 0.8, 2], attrs: { mode: 'linear', exclude_outside: 1 } }));
    const one = resize([2, 3, 8], { scales: [1, 1, 2.5], attrs: { mode: 'linear' } });
    expect(await agree(one)).toEqual(['naive']);
    expect((await reasons(one)).separable).toMatch(/nothing to separate/);
    expect(await agree(resize([1, 2, 3, 4, 5], { scales: [1, 1, 2, 0.5, 1.4], attrs: { mode: 'linear' } }))).toEqual(['naive', 'separable']);
    await agree(resize([6], { sizes: [13], attrs: { mode: 'cubic' } }));
  });
  it('tf_crop_and_resize with extrapolation', async () => {
    for (const mode of ['nearest', 'linear']) {
      await agree(resize([1, 1, 6, 6], { roi: [0, 0, 0.2, 0.3, 1, 1, 1.2, 0.8], sizes: [1, 1, 4, 5], attrs: { mode, coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: 9 } }));
    }
  });
  it('Resize-18 axes and keep_aspect_ratio_policy', async () => {
    const c = casesFrom((g) => {
      g.input('x', 'float32', [1, 2, 6, 8]);
      g.output(g.op('Resize', ['x', '', '', g.ints('sz', [3, 3])], { mode: 'nearest', axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' }));
    }, { '': 18 })[0];
    // not_larger: one scale, min(3/6, 3/8), for both axes; sizes round(6·0.375), round(8·0.375).
    expect(c.layer.outputs[0].shape).toEqual([1, 2, 2, 3]);
    expect(await agree(c)).toEqual(['naive']);
    expect((await reasons({ ...c, layer: { ...c.layer, attrs: { ...c.layer.attrs, antialias: 1 } } })).naive).toMatch(/antialias/);
  });
  it('Resize-10 and Upsample (asymmetric, legacy nearest)', async () => {
    const r10 = casesFrom((g) => {
      g.input('x', 'float32', [1, 1, 6, 4]);
      g.output(g.op('Resize', ['x', g.init('s', 'float32', [4], [1, 1, 0.5, 2.5])], { mode: 'nearest' }));
    }, { '': 10 })[0];
    await agree(r10);
    // Upsample-7 takes its scales as an attribute.
    await agree(casesFrom((g) => {
      g.input('x', 'float32', [1, 1, 3, 2]);
      g.output(g.op('Upsample', ['x'], { mode: 'nearest', scales: [1, 1, 2.5, 2] }));
    }, { '': 7 })[0]);
    for (const mode of ['nearest', 'linear']) {
      await agree(casesFrom((g) => {
        g.input('x', 'float32', [1, 2, 3, 4]);
        g.output(g.op('Upsample', ['x', g.init('s', 'float32', [4], [1, 1, 2, 3])], { mode }));
      }, { '': 9 })[0]);
    }
  });
  it('int64 nearest, linear on integers refused, float16', async () => {
    expect(await agree(resize([1, 1, 3, 4], { scales: [1, 1, 2, 2], attrs: { mode: 'nearest' }, dtype: 'int64' }))).toEqual(['naive']);
    expect((await reasons(resize([1, 1, 3, 4], { scales: [1, 1, 2, 2], attrs: { mode: 'linear' }, dtype: 'int64' }))).naive).toMatch(/int64/);
    expect(await agree(resize([1, 2, 5, 4], { scales: [1, 1, 2, 2], attrs: { mode: 'linear' }, dtype: 'float16' }))).toEqual(['naive', 'separable']);
    await agree(resize([1, 2, 5, 4], { scales: [1, 1, 0.6, 2], attrs: { mode: 'nearest' }, dtype: 'float16' }));
  });
});

describe('resize ONNX conformance', () => {
  it('every supported variant passes', async () => {
    const t = await tallyConformance(conformanceCasesFor(['Resize', 'Upsample']), runMovementConformance);
    printTally('resize', t);
    expect(t.failed).toEqual([]);
    expect(t.perOp.get('Resize')!.skip).toBe(0);
  }, 60_000);
});
