/**
 * GridSample (every mode × padding mode, align_corners, grids reaching outside the image) and
 * RoiAlign (avg and max, half_pixel and output_half_pixel, adaptive and fixed sampling ratio,
 * ROIs partly outside the image) against the reference, and ONNX's conformance cases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { AttrInput } from '../../src/onnx/write.js';
import { agree, casesFrom, gpu, inputsFor, releaseGpu } from '../support/kernels.js';
import { expectEveryCasePasses } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

let seed = 4242;
const rnd = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

function gridCase(x: number[], grid: number[], attrs: Record<string, AttrInput>): LayerCase {
  return casesFrom((g) => {
    g.input('x', 'float32', x);
    g.input('g', 'float32', grid);
    g.output(g.op('GridSample', ['x', 'g'], attrs), 'float32');
  }, { '': 16 })[0];
}

/** Grid coordinates in [−1.4, 1.4] (outside the image too), some exactly on pixel centres and edges. */
function gridData(shape: number[]): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? [-1, 1, 0, 0.5][i % 4] : rnd() * 2.8 - 1.4)) };
}

describe('sampling kernels against the reference', () => {
  it('GridSample: bilinear, nearest, bicubic × zeros, border, reflection × align_corners', async () => {
    for (const mode of ['bilinear', 'nearest', 'bicubic']) {
      for (const padding_mode of ['zeros', 'border', 'reflection']) {
        for (const align_corners of [0, 1]) {
          const c = gridCase([2, 3, 5, 6], [2, 4, 7, 2], { mode, padding_mode, align_corners });
          const ins = inputsFor(c);
          ins[1] = gridData([2, 4, 7, 2]);
          expect(await agree(c, ins), `${mode} ${padding_mode} ${align_corners}`).toEqual(['naive']);
        }
      }
    }
  });

  it('RoiAlign: avg and max, both coordinate modes, sampling ratios, ROIs partly outside', async () => {
    const ra = (attrs: Record<string, AttrInput>) => casesFrom((g) => {
      g.input('x', 'float32', [2, 3, 9, 11]);
      g.input('r', 'float32', [4, 4]);
      g.input('b', 'int64', [4]);
      g.output(g.op('RoiAlign', ['x', 'r', 'b'], attrs), 'float32');
    }, { '': 16 })[0];
    const rois: HostTensor = { dtype: 'float32', shape: [4, 4], data: Float32Array.of(0, 0, 10, 8, 2.5, 1.2, 6.1, 7.9, -3, -2, 4, 3, 8, 6, 14, 12) };
    const bidx: HostTensor = { dtype: 'int64', shape: [4], data: Int32Array.of(0, 1, 1, 0) };
    for (const attrs of [
      { output_height: 3, output_width: 4, sampling_ratio: 2 },
      { output_height: 2, output_width: 2, sampling_ratio: 0, mode: 'max' },
      { output_height: 3, output_width: 3, coordinate_transformation_mode: 'output_half_pixel', spatial_scale: 0.5 },
      { output_height: 4, output_width: 2, sampling_ratio: 1, mode: 'max', coordinate_transformation_mode: 'output_half_pixel' },
    ] as Array<Record<string, AttrInput>>) {
      const c = ra(attrs);
      const ins = inputsFor(c);
      ins[1] = rois;
      ins[2] = bidx;
      expect(await agree(c, ins), JSON.stringify(attrs)).toEqual(['naive']);
    }
  });

  it('float16 data', async () => {
    const c = casesFrom((g) => {
      g.input('x', 'float16', [1, 2, 4, 5]);
      g.input('g', 'float16', [1, 3, 3, 2]);
      g.output(g.op('GridSample', ['x', 'g'], { mode: 'bicubic', padding_mode: 'border' }), 'float16');
    }, { '': 16 })[0];
    expect(await agree(c)).toEqual(['naive']);
  });

  it('AffineGrid (2-D and 3-D, align_corners) and MaxRoiPool', async () => {
    for (const [size, align_corners] of [[[2, 3, 4, 5], 0], [[1, 1, 3, 4, 2], 1], [[2, 2, 5, 1], 1]] as Array<[number[], number]>) {
      const r = size.length - 2;
      const c = casesFrom((g) => {
        g.input('t', 'float32', [size[0], r, r + 1]);
        g.output(g.op('AffineGrid', ['t', g.ints('s', size)], { align_corners }), 'float32');
      }, { '': 20 })[0];
      expect(c.layer.outputs[0].shape).toEqual([size[0], ...size.slice(2), r]);
      expect(await agree(c), `${size}`).toEqual(['naive']);
    }
    const c = casesFrom((g) => {
      g.input('x', 'float32', [2, 3, 8, 9]);
      g.input('r', 'float32', [3, 5]);
      g.output(g.op('MaxRoiPool', ['x', 'r'], { pooled_shape: [2, 3], spatial_scale: 0.5 }), 'float32');
    })[0];
    const ins = inputsFor(c);
    ins[1] = { dtype: 'float32', shape: [3, 5], data: Float32Array.of(0, 1, 1, 12, 9, 1, 3.4, 0, 17, 15, 1, -4, -4, 3, 1) };
    expect(await agree(c, ins)).toEqual(['naive']);
    // Identity θ with align_corners: the grid is the corners' normalized coordinates.
    const id = casesFrom((g) => {
      g.input('t', 'float32', [1, 2, 3]);
      g.output(g.op('AffineGrid', ['t', g.ints('s', [1, 1, 2, 2])], { align_corners: 1 }), 'float32');
    }, { '': 20 })[0];
    const y = kernelFor('AffineGrid')!.reference(id, [{ dtype: 'float32', shape: [1, 2, 3], data: Float32Array.of(1, 0, 0, 0, 1, 0) }])[0];
    expect([...y.data]).toEqual([-1, -1, 1, -1, -1, 1, 1, 1]);
  });

  it('the GridSample reference on known values', () => {
    // align_corners: grid (−1, −1) is pixel (0, 0), (1, 1) the last pixel, (0, 0) the centre.
    const c = gridCase([1, 1, 2, 2], [1, 1, 3, 2], { align_corners: 1 });
    const x: HostTensor = { dtype: 'float32', shape: [1, 1, 2, 2], data: Float32Array.of(1, 2, 3, 4) };
    const g: HostTensor = { dtype: 'float32', shape: [1, 1, 3, 2], data: Float32Array.of(-1, -1, 1, 1, 0, 0) };
    expect([...kernelFor('GridSample')!.reference(c, [x, g])[0].data]).toEqual([1, 4, 2.5]);
  });

  it('unsupported layers say why', async () => {
    const { runner } = await gpu();
    const c = casesFrom((g) => {
      g.input('x', 'float32', [1, 1, 2, 3, 4]);
      g.input('g', 'float32', [1, 2, 2, 2, 3]);
      g.output(g.op('GridSample', ['x', 'g'], {}), 'float32');
    }, { '': 20 })[0];
    expect(kernelFor('GridSample')!.supports(c, 'naive', runner.caps)).toEqual({ ok: false, reason: 'rank 5 input: only 2-D sampling (rank 4)' });
  });
});

describe('sampling ONNX conformance', () => {
  it('every case passes (reference and kernel)', async () => {
    await expectEveryCasePasses('sampling', ['GridSample', 'RoiAlign'], { cases: 10, passed: 20 });
  }, 120_000);
});
