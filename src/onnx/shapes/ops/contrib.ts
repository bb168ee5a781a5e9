/**
 * onnxruntime's `com.microsoft` contrib ops that transformer exporters emit (onnxruntime's
 * transformer optimizer, Olive): Attention (input projection + multi-head attention) and
 * MultiHeadAttention (attention over already projected Q, K, V). Only the unpacked 3-D layouts
 * without a KV cache are inferred; the packed and past/present forms fail with the reason.
 * Semantics: onnxruntime's docs/ContribOperators.md.
 */
import type { Dim } from '../types.js';
import type { InferCtx, OpSpec, TensorInfo } from '../types.js';
import { shapeAtLeast, unify } from './nn-util.js';

const num = (d: Dim): d is number => typeof d === 'number';

function heads(ctx: InferCtx): number {
  const h = ctx.attr.int('num_heads');
  if (h <= 0) ctx.fail(`num_heads ${h} must be positive`);
  ctx.attr.int('unidirectional', 0);
  ctx.attr.float('mask_filter_value', -10000);
  return h;
}

/** scale 0 (the default) means 1/√head_size; the normalized attribute holds the value used. */
function scaleAttr(ctx: InferCtx, headSize: Dim): void {
  const s = ctx.attr.float('scale', 0);
  if (s === 0 && num(headSize)) ctx.setAttr('scale', Math.fround(1 / Math.sqrt(headSize)));
}

function divisible(ctx: InferCtx, width: Dim, h: number, what: string): void {
  if (num(width) && width % h !== 0) ctx.fail(`${what} width ${width} is not divisible by num_heads ${h}`);
}

/** MultiHeadAttention: query [B,S,h·d], key [B,L,h·d], value [B,L,h·dv] → output [B,S,h·dv]. */
const multiHeadAttention: OpSpec = {
  infer: (ctx) => {
    const h = heads(ctx);
    const q = ctx.shape(0);
    if (q.length !== 3) ctx.fail(`query of rank ${q.length}: only the 3-D [batch, sequence, hidden] layout is supported (packed QKV is not)`);
    if (!ctx.has(1) || !ctx.has(2)) ctx.fail('key and value inputs are required (packed QKV/KV layouts are not supported)');
    const k = ctx.shape(1);
    const v = ctx.shape(2);
    if (k.length !== 3 || v.length !== 3) ctx.fail('key and value must be 3-D [batch, kv_sequence, hidden] (the BNSH past-key layout is not supported)');
    if (ctx.has(6) || ctx.has(7)) ctx.fail('past_key/past_value (KV cache) are not supported');
    if (ctx.has(4)) ctx.fail('key_padding_mask is not supported; give the mask as attention_bias');
    const B = unify(ctx, unify(ctx, q[0], k[0], 'batch of query and key'), v[0], 'batch of value');
    unify(ctx, k[1], v[1], 'kv_sequence of key and value');
    unify(ctx, q[2], k[2], 'hidden size of query and key');
    divisible(ctx, q[2], h, 'query');
    divisible(ctx, v[2], h, 'value');
    scaleAttr(ctx, num(q[2]) ? q[2] / h : q[2]);
    const out: TensorInfo[] = [{ dtype: ctx.dtype(0), shape: [B, q[1], v[2]] }];
    if (ctx.numOutputs > 1) ctx.fail('present_key/present_value outputs (KV cache) are not supported');
    return out;
  },
};

/** Attention: input [B,S,Din] · weights [Din, Dq+Dk+Dv] (+ bias) → multi-head attention → [B,S,Dv]. */
const attention: OpSpec = {
  infer: (ctx) => {
    const h = heads(ctx);
    const x = shapeAtLeast(ctx, 0, 3, 'input');
    if (x.length !== 3) ctx.fail(`input of rank ${x.length}: [batch, sequence, hidden] expected`);
    const w = ctx.shape(1);
    if (w.length !== 2) ctx.fail(`weights of rank ${w.length}: [input_hidden, Dq+Dk+Dv] expected`);
    unify(ctx, x[2], w[0], 'hidden size of input and weights');
    const wn = w[1];
    if (!num(wn)) return ctx.fail('the weights\' output width must be known');
    const sizes = ctx.attr.ints('qkv_hidden_sizes', []);
    const [dq, dk, dv] = sizes.length ? sizes : [wn / 3, wn / 3, wn / 3];
    if (sizes.length && sizes.length !== 3) ctx.fail(`qkv_hidden_sizes has ${sizes.length} values, 3 expected`);
    if (dq + dk + dv !== wn || !Number.isInteger(dq)) ctx.fail(`weights width ${wn} is not Dq+Dk+Dv (${dq}+${dk}+${dv})`);
    if (dq !== dk) ctx.fail(`query and key widths differ (${dq} vs ${dk})`);
    ctx.setAttr('qkv_hidden_sizes', [dq, dk, dv]);
    divisible(ctx, dq, h, 'query');
    divisible(ctx, dv, h, 'value');
    if (ctx.has(2)) {
      const b = ctx.shape(2);
      if (b.length !== 1 || (num(b[0]) && b[0] !== wn)) ctx.fail(`bias [${b.join(',')}] is not [${wn}]`);
    }
    if (ctx.has(3)) ctx.fail('mask_index is not supported; give the mask as attention_bias');
    if (ctx.has(4)) ctx.fail('past (KV cache) is not supported');
    scaleAttr(ctx, dq / h);
    if (ctx.numOutputs > 1) ctx.fail('the present output (KV cache) is not supported');
    return [{ dtype: ctx.dtype(0), shape: [x[0], x[1], dv] }];
  },
};

export const contribOps: Record<string, OpSpec> = {
  'com.microsoft:MultiHeadAttention': multiHeadAttention,
  'com.microsoft:Attention': attention,
};
