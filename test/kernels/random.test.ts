/**
 * The random generators: every kernel against the reference (the same counter-based generator,
 * so values agree), and the distributions checked on the reference's own draws (mean, variance,
 * frequencies) so that a wrong transform cannot pass just by agreeing with itself. ONNX's
 * Bernoulli conformance cases are skipped: their expected values come from numpy's generator,
 * which ONNX does not specify.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerCase } from '../../src/kernels/types.js';
import { kernelFor } from '../../src/kernels/registry.js';
import type { AttrInput } from '../../src/onnx/write.js';
import { agree, casesFrom, inputsFor, releaseGpu } from '../support/kernels.js';

afterAll(releaseGpu);

const gen = (op: string, attrs: Record<string, AttrInput>): LayerCase => casesFrom((g) => g.output(g.op(op, [], attrs), 'float32'))[0];

function moments(d: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0, s2 = 0;
  for (let i = 0; i < d.length; i++) { s += d[i]; s2 += d[i] * d[i]; }
  const mean = s / d.length;
  return { mean, variance: s2 / d.length - mean * mean };
}

describe('random kernels', () => {
  it('RandomUniform and RandomNormal agree with the reference and have the right moments', async () => {
    const u = gen('RandomUniform', { shape: [64, 64], low: -2, high: 3, seed: 5 });
    expect(await agree(u)).toEqual(['naive']);
    const um = moments(kernelFor('RandomUniform')!.reference(u, [])[0].data);
    // Uniform(−2, 3): mean 0.5, variance 25/12; 4096 draws give about ±0.05 on the mean.
    expect(um.mean).toBeCloseTo(0.5, 1);
    expect(um.variance).toBeCloseTo(25 / 12, 0);
    const n = gen('RandomNormal', { shape: [64, 64], mean: 1, scale: 2 });
    expect(await agree(n)).toEqual(['naive']);
    const nm = moments(kernelFor('RandomNormal')!.reference(n, [])[0].data);
    expect(Math.abs(nm.mean - 1)).toBeLessThan(0.1);
    expect(Math.abs(nm.variance - 4)).toBeLessThan(0.3);
    // Different seeds, different draws.
    const a = kernelFor('RandomUniform')!.reference(gen('RandomUniform', { shape: [8], seed: 1 }), [])[0].data;
    const b = kernelFor('RandomUniform')!.reference(gen('RandomUniform', { shape: [8], seed: 2 }), [])[0].data;
    expect([...a]).not.toEqual([...b]);
  });

  it('the Like variants, Bernoulli and Multinomial', async () => {
    const like = (op: string, attrs: Record<string, AttrInput> = {}, outType: 'float32' | 'int32' = 'float32', shape = [5, 7]) => casesFrom((g) => {
      g.input('x', 'float32', shape);
      g.output(g.op(op, ['x'], attrs), outType);
    })[0];
    expect(await agree(like('RandomUniformLike', { high: 4 }))).toEqual(['naive']);
    expect(await agree(like('RandomNormalLike', { scale: 0.5 }))).toEqual(['naive']);
    const bern = like('Bernoulli', {}, 'float32', [40, 50]);
    const ins = inputsFor(bern);
    ins[0] = { dtype: 'float32', shape: [40, 50], data: new Float32Array(2000).fill(0.3) };
    expect(await agree(bern, ins)).toEqual(['naive']);
    const freq = moments(kernelFor('Bernoulli')!.reference(bern, ins)[0].data).mean;
    expect(Math.abs(freq - 0.3)).toBeLessThan(0.04);
    const mn = like('Multinomial', { sample_size: 200 }, 'int32', [3, 4]);
    const mi = inputsFor(mn);
    mi[0] = { dtype: 'float32', shape: [3, 4], data: Float32Array.from([0, 0, 0, 0, Math.log(3), 0, 0, 0, -50, -50, 0, -50]) };
    expect(await agree(mn, mi)).toEqual(['naive']);
    const s = kernelFor('Multinomial')!.reference(mn, mi)[0].data;
    // Row 1 has class 0 with probability 1/2; row 2 always class 2.
    const row1 = [...s.slice(200, 400)].filter((v) => v === 0).length / 200;
    expect(Math.abs(row1 - 0.5)).toBeLessThan(0.12);
    expect([...s.slice(400, 600)].every((v) => v === 2)).toBe(true);
  });
});
