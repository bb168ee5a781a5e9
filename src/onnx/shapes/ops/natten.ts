/**
 * `dlprof:NeighborhoodAttention` (docs/ops/neighborhood-attention.md): neighborhood attention as
 * in NATTEN (Hassani et al., "Neighborhood Attention Transformer", CVPR 2023; "Dilated
 * Neighborhood Attention Transformer", 2022). Q, K, V are [batch, heads, *spatial, head_dim] with
 * 1 to 3 spatial dims; the optional relative-position bias is [heads, 2·k₁−1, …, 2·kₙ−1]; the
 * output has Q's shape.
 *
 * Attributes are normalized so that equal layers get equal keys: kernel_size and dilation are
 * expanded to one value per spatial dim (a single value applies to all), is_causal likewise, and
 * scale gets its default 1/√head_dim recorded.
 */
import type { Dim } from '../types.js';
import type { InferCtx, OpSpec } from '../types.js';
import { unify } from './nn-util.js';

/** One value per spatial dim: a list of length n, or a single value repeated. */
function perDim(ctx: InferCtx, name: string, v: number[], n: number): number[] {
  if (v.length === n) return [...v];
  if (v.length === 1) return new Array<number>(n).fill(v[0]);
  return ctx.fail(`${name} has ${v.length} values [${v.join(',')}]; Q has ${n} spatial dim${n === 1 ? '' : 's'} (give ${n} or 1)`);
}

const neighborhoodAttention: OpSpec = {
  infer: (ctx) => {
    const q = ctx.shape(0);
    const n = q.length - 3;
    if (n < 1 || n > 3) ctx.fail(`Q must be [batch, heads, *spatial, head_dim] with 1 to 3 spatial dims, got rank ${q.length} [${q.join(',')}]`);
    const dt = ctx.dtype(0);
    if (dt !== 'float32' && dt !== 'float16') ctx.fail(`Q is ${dt}; NeighborhoodAttention takes float32 or float16`);
    for (const [i, name] of [[1, 'K'], [2, 'V']] as const) {
      const s = ctx.shape(i);
      if (s.length !== q.length) ctx.fail(`${name} has rank ${s.length} [${s.join(',')}], Q has rank ${q.length} [${q.join(',')}]`);
      if (ctx.dtype(i) !== dt) ctx.fail(`${name} is ${ctx.dtype(i)}, Q is ${dt}`);
      s.forEach((d, j) => unify(ctx, d, q[j], `${name} [${s.join(',')}] must have Q's shape [${q.join(',')}] (dim ${j})`));
    }
    const spatial = q.slice(2, 2 + n);
    const kernel = perDim(ctx, 'kernel_size', ctx.attr.ints('kernel_size'), n);
    const dilation = perDim(ctx, 'dilation', ctx.attr.ints('dilation', [1]), n);
    const causal = perDim(ctx, 'is_causal', ctx.attr.ints('is_causal', [0]), n);
    for (let i = 0; i < n; i++) {
      const k = kernel[i];
      const d = dilation[i];
      if (!Number.isInteger(k) || k < 1 || k % 2 === 0) ctx.fail(`kernel_size must be odd and ≥ 1 in every dim, got [${kernel.join(',')}]`);
      if (!Number.isInteger(d) || d < 1) ctx.fail(`dilation must be ≥ 1 in every dim, got [${dilation.join(',')}]`);
      if (causal[i] !== 0 && causal[i] !== 1) ctx.fail(`is_causal must be 0 or 1 per dim, got [${causal.join(',')}]`);
      const ext = spatial[i];
      // Every query must find kernel_size keys of its own dilation group (NATTEN's requirement):
      // the smallest group has ⌊extent/dilation⌋ positions.
      if (typeof ext === 'number' && ext < k * d) {
        ctx.fail(`spatial dim ${i} has extent ${ext}, smaller than kernel_size × dilation = ${k} × ${d} = ${k * d}`);
      }
    }
    ctx.setAttr('kernel_size', kernel);
    ctx.setAttr('dilation', dilation);
    ctx.setAttr('is_causal', causal);
    const hd = q[q.length - 1];
    if (ctx.attr.has('scale')) {
      ctx.attr.float('scale');
    } else {
      if (typeof hd !== 'number') return ctx.fail(`head_dim is symbolic (${hd}); give the scale attribute explicitly`);
      ctx.attr.float('scale', 1 / Math.sqrt(hd));
    }
    if (ctx.has(3)) {
      const b = ctx.shape(3);
      const want: Dim[] = [q[1], ...kernel.map((k) => 2 * k - 1)];
      if (b.length !== want.length) ctx.fail(`rpb must be [heads, 2·k−1 per dim] = [${want.join(',')}], got [${b.join(',')}]`);
      b.forEach((d, j) => unify(ctx, d, want[j], `rpb [${b.join(',')}] must be [${want.join(',')}] (dim ${j})`));
      if (ctx.dtype(3) !== dt) ctx.fail(`rpb is ${ctx.dtype(3)}, Q is ${dt}`);
    }
    return [{ dtype: dt, shape: [...q] }];
  },
};

export const nattenOps: Record<string, OpSpec> = {
  'dlprof:NeighborhoodAttention': neighborhoodAttention,
};
