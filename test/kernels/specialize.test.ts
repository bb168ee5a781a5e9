/**
 * Specialization keys (src/kernels/specialize.ts): what stays compiled into a program, what becomes
 * a run-time parameter, and that layers differing only in sizes share one pipeline and still
 * compute their own results.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { PARAM_BLOCK, planHash, specialize } from '../../src/kernels/specialize.js';
import { compareOutputs } from '../../src/bench/verify.js';
import type { LayerCase } from '../../src/kernels/types.js';
import { casesFrom, gpu, releaseGpu } from '../support/kernels.js';

afterAll(releaseGpu);

describe('specialize', () => {
  it('lifts suffixed integer literals into the parameter block, in order, and keeps constant contexts compiled in', () => {
    const src = [
      'enable f16;',
      '@group(0) @binding(0) var<storage, read> X: array<f32>;',
      '@group(0) @binding(1) var<storage, read_write> Y: array<f32>;',
      'const TILE = 64u;',
      'var<workgroup> T: array<f32, 128>;',
      '@compute @workgroup_size(128)',
      'fn main(@builtin(local_invocation_index) lid: u32) {',
      '  // 999u in a comment stays',
      '  let a = lid % 37u + 1000u * 3i;',
      '  let b = lid / 128u + lid * 16;',
      '  switch (lid) { case 5u: { Y[0] = 0.0; } default: {} }',
      '  Y[lid] = X[lid * 37u] + 2.5;',
      '}',
    ].join('\n');
    const s = specialize(src);
    // 37u as a divisor, 1000u, 3i, 128u as a divisor, 37u as a multiplier (a slot of its own); 64u is a
    // const, 16 abstract (compiled in, as a generator writes a tile size), 5u a case selector.
    expect(Array.from(s.params)).toEqual([37, 1000, 3, 128, 37, 0, 0, 0]);
    expect(s.binding).toBe(2);
    expect(s.source).toContain(`@group(0) @binding(2) var<uniform> ${PARAM_BLOCK}: array<vec4<u32>, 2>;`);
    // The block is declared after the `enable` directive, which must come first.
    expect(s.source.split('\n')[0]).toBe('enable f16;');
    expect(s.source).toContain(`let a = lid % ${PARAM_BLOCK}[0][0] + ${PARAM_BLOCK}[0][1] * bitcast<i32>(${PARAM_BLOCK}[0][2]);`);
    expect(s.source).toContain(`let b = lid / ${PARAM_BLOCK}[0][3] + lid * 16;`);
    expect(s.source).toContain(`Y[lid] = X[lid * ${PARAM_BLOCK}[1][0]] + 2.5;`);
    for (const kept of ['const TILE = 64u;', 'array<f32, 128>', '@workgroup_size(128)', 'case 5u:', '999u in a comment']) expect(s.source).toContain(kept);
  });

  it('equal divisors read one slot, so which divisors coincide is part of the key; other coinciding sizes are not', () => {
    const prog = (a: number, b: number, c: number): string => `@group(0) @binding(0) var<storage, read_write> Y: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) { Y[lid] = (lid / ${a}u) % ${b}u + lid * ${c}u; }`;
    const one = specialize(prog(12, 12, 7));
    const two = specialize(prog(12, 5, 7));
    expect(one.source).not.toBe(two.source);
    expect(Array.from(one.params.slice(0, 2))).toEqual([12, 7]);
    // A multiplier that equals a divisor keeps its own slot: the key is the same as with another value.
    expect(specialize(prog(12, 5, 12)).source).toBe(two.source);
    expect(specialize(prog(40, 9, 3)).source).toBe(two.source);
  });

  it('a named size is lifted even when it is 0; an unnamed 0 stays compiled in', () => {
    const prog = (pad: number): string => `@group(0) @binding(0) var<storage, read_write> Y: array<i32>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) { let pad = ${pad}i; Y[lid] = i32(lid) - pad + 0i; }`;
    const zero = specialize(prog(0));
    expect(zero.source).toBe(specialize(prog(3)).source);
    expect(Array.from(zero.params)).toEqual([0, 0, 0, 0]);
    expect(Array.from(specialize(prog(3)).params)).toEqual([3, 0, 0, 0]);
    expect(zero.source).toContain(`let pad = bitcast<i32>(${PARAM_BLOCK}[0][0]);`);
    expect(zero.source).toContain('+ 0i;');
  });

  it('a program with nothing to lift is its own key', () => {
    const src = '@compute @workgroup_size(1)\nfn main() { var x = 0u; x += 0u; }';
    expect(specialize(src)).toEqual({ source: src, params: new Uint32Array(0), binding: null });
  });
});

/** A k×k convolution of x[1, C, H, W] to M channels (3×3 with pads 1 unless told), W an initializer. */
function conv(C: number, H: number, W: number, M: number, k = 3, pad = 1, stride = 1): LayerCase {
  const [c] = casesFrom((b) => {
    const x = b.input('x', 'float32', [1, C, H, W]);
    const w = b.init('w', 'float32', [M, C, k, k]);
    b.output(b.op('Conv', [x, w], { kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [stride, stride] }));
  });
  return c;
}

describe('layers that differ only in sizes', () => {
  it('share one pipeline per pass, and each computes its own outputs', async () => {
    const { runner } = await gpu();
    const kernel = kernelFor('Conv')!;
    // Two ResNet stages: 16 → 32 channels at 28², 32 → 64 at 14².
    const a = conv(16, 28, 28, 32);
    const b = conv(32, 14, 14, 64);
    for (const variant of ['direct', 'implicit-gemm']) {
      const pa = kernel.plan(a, variant, runner.caps);
      const pb = kernel.plan(b, variant, runner.caps);
      expect(pa.passes.map((p) => p.wgsl)).not.toEqual(pb.passes.map((p) => p.wgsl));
      expect(pa.passes.map((p) => specialize(p.wgsl).source)).toEqual(pb.passes.map((p) => specialize(p.wgsl).source));
      expect(planHash(pa)).toBe(planHash(pb));
      const before = runner.pipelineCount;
      for (const [c, plan] of [[a, pa], [b, pb]] as const) {
        const inputs = syntheticInputs(c, 3);
        const p = await runner.prepare(kernel, c, plan, inputs, `${variant} ${c.layer.key}`);
        const got = await runner.run(p, c);
        runner.release(p);
        expect(compareOutputs(got, kernel.reference(c, inputs)).ok).toBe(true);
      }
      // The first layer compiled its passes (unless an earlier test did); the second compiled none.
      expect(runner.pipelineCount - before).toBeLessThanOrEqual(pa.passes.length);
      const again = runner.pipelineCount;
      const p = await runner.prepare(kernel, b, pb, syntheticInputs(b, 3), 'again');
      runner.release(p);
      expect(runner.pipelineCount).toBe(again);
    }
  });

  it('one implicit-GEMM program serves 7×7, 3×3 and 1×1 convolutions, strided or not, padded or not', async () => {
    const { runner } = await gpu();
    const kernel = kernelFor('Conv')!;
    // ResNet's stem (7×7/2, pads 3), a body 3×3 and a 1×1/2 downsample without pads.
    const layers = [conv(16, 32, 32, 16, 7, 3, 2), conv(16, 16, 16, 32), conv(16, 16, 16, 32, 1, 0, 2)];
    const keys = layers.map((c) => kernel.plan(c, 'implicit-gemm', runner.caps).passes.map((p) => specialize(p.wgsl).source));
    expect(keys[1]).toEqual(keys[0]);
    expect(keys[2]).toEqual(keys[0]);
    for (const c of layers) {
      const inputs = syntheticInputs(c, 5);
      const p = await runner.prepare(kernel, c, kernel.plan(c, 'implicit-gemm', runner.caps), inputs, `implicit-gemm ${c.layer.key}`);
      const got = await runner.run(p, c);
      runner.release(p);
      expect(compareOutputs(got, kernel.reference(c, inputs)).ok).toBe(true);
    }
  });

  it("a kernel's code, not the layer's sizes, changes its hash", async () => {
    const { runner } = await gpu();
    const kernel = kernelFor('Conv')!;
    const plan = kernel.plan(conv(16, 28, 28, 32), 'direct', runner.caps);
    const changed = { passes: plan.passes.map((p) => ({ ...p, wgsl: p.wgsl.replace('fma(', 'fma( ') })) };
    expect(planHash(changed)).not.toBe(planHash(plan));
    expect(planHash(kernel.plan(conv(32, 14, 14, 64), 'direct', runner.caps))).toBe(planHash(plan));
    expect(planHash(kernel.plan(conv(16, 28, 28, 32), 'implicit-gemm', runner.caps))).not.toBe(planHash(plan));
  });
});
