/**
 * Losses of training graphs: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (ONNX
 * semantics). Input [N, C, d…], targets [N, d…]; per position the loss is −w[t]·logp[n, t, d…]
 * with logp the input itself (NLL) or its log-softmax over C (SCE), and 0 where the target equals
 * ignore_index. reduction none keeps [N, d…]; sum adds; mean divides the sum by Σ w[t] over the
 * positions not ignored (the count when there are no weights). SCE's optional second output is
 * the log-softmax itself.
 *
 * `naive`: one invocation per position computes its loss (SCE: with a max-shifted log-sum-exp
 * over C); for sum/mean those go to scratch and one workgroup of 256 reduces them (a tree in
 * workgroup memory); SCE's log_prob output is one more pass, one element per invocation.
 */
import {
  supported, unsupported,
  type BufferRef, type DeviceCaps, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Pass, type Support,
} from './types.js';
import { elements, entry1d, header, prod } from './wgsl.js';
import { WG, attrStr, checkTensors, decl, gt, isFloat, pass1d, values } from './movement.js';

const RED = 256;

interface Geo { N: number; C: number; D: number; sce: boolean; reduction: string; ii: number | null; weight: boolean; logProb: boolean }

function geo(c: LayerCase): Geo {
  const x = c.layer.inputs[0]!.shape;
  const ii = c.layer.attrs.ignore_index;
  return {
    N: x[0], C: x[1], D: prod(x.slice(2)), sce: c.layer.op === 'SoftmaxCrossEntropyLoss',
    reduction: attrStr(c, 'reduction', 'mean'), ii: typeof ii === 'number' ? ii : null,
    weight: !!c.layer.inputs[2], logProb: c.layer.op === 'SoftmaxCrossEntropyLoss' && c.layer.outputs.length > 1,
  };
}

function check(c: LayerCase): Support {
  const [x, t, w] = c.layer.inputs;
  if (!x || !isFloat(x.dtype) || x.shape.length < 2) return unsupported('input must be float32/float16 [N, C, d…]');
  if (!t || (t.dtype !== 'int32' && t.dtype !== 'int64')) return unsupported('targets must be int32/int64');
  if (w && (gt(w) !== gt(x) || elements(w) !== x.shape[1])) return unsupported('weight must be [C] of the input type');
  if (!['none', 'sum', 'mean'].includes(attrStr(c, 'reduction', 'mean'))) return unsupported(`reduction ${attrStr(c, 'reduction', '')}`);
  if (c.layer.outputs.some((o) => gt(o) !== gt(x))) return unsupported('outputs differ in type from the input');
  return supported;
}

/** WGSL: `lse(n, d)`, the log-sum-exp over C at (n, d), shifted by the maximum. */
function lseFn(g: Geo): string {
  return `fn lse(n: u32, d: u32) -> f32 {
  let base = n * ${g.C * g.D}u + d;
  var m = f32(x[base]);
  for (var c = 1u; c < ${g.C}u; c++) { m = max(m, f32(x[base + c * ${g.D}u])); }
  var s = 0.0f;
  for (var c = 0u; c < ${g.C}u; c++) { s += exp(f32(x[base + c * ${g.D}u]) - m); }
  return m + log(s);
}`;
}

function planOf(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = geo(c);
  const xt = gt(c.layer.inputs[0]!);
  const M = g.N * g.D;
  const label = `loss/naive ${c.layer.op}`;
  const passes: Pass[] = [];
  const reduce = g.reduction !== 'none';
  // Bindings of the per-position pass: x, targets, (weight), then loss output or scratch.
  const decls = [decl(0, 'x', xt, 'read'), decl(1, 'tg', 'i32', 'read')];
  const buffers: BufferRef[] = [{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }];
  if (g.weight) { decls.push(decl(2, 'wt', xt, 'read')); buffers.push({ kind: 'input', index: 2 }); }
  decls.push(reduce ? decl(decls.length, 'part', 'f32', 'read_write') : decl(decls.length, 'y', xt, 'read_write'));
  buffers.push(reduce ? { kind: 'scratch', index: 0 } : { kind: 'output', index: 0 });
  const logp = g.sce ? 'f32(x[(n * ' + g.C + 'u + tc) * ' + g.D + 'u + d]) - lse(n, d)' : `f32(x[(n * ${g.C}u + tc) * ${g.D}u + d])`;
  const body = `  let d = gid % ${g.D}u;
  let n = gid / ${g.D}u;
  let t = tg[gid];
  var l = 0.0f;
  var w = 0.0f;
  if (${g.ii === null ? 'true' : `t != ${g.ii}i`}) {
    let tc = u32(clamp(t, 0i, ${g.C - 1}i));
    w = ${g.weight ? 'f32(wt[tc])' : '1.0f'};
    l = -(${logp}) * w;
  }
${reduce ? '  part[2u * gid] = l;\n  part[2u * gid + 1u] = w;' : `  y[gid] = ${xt}(l);`}`;
  if (M > 0) passes.push(pass1d(`${label} positions`, `${header([xt])}${decls.join('\n')}\n${g.sce ? lseFn(g) : ''}\n\n${entry1d(WG, M, body)}\n`, M, caps, buffers));
  if (reduce) {
    const red = `${header([xt])}${decl(0, 'part', 'f32', 'read')}
${decl(1, 'y', xt, 'read_write')}
var<workgroup> sl: array<f32, ${RED}>;
var<workgroup> sw: array<f32, ${RED}>;

@compute @workgroup_size(${RED})
fn main(@builtin(local_invocation_index) lid: u32) {
  var a = 0.0f;
  var b = 0.0f;
  for (var i = lid; i < ${M}u; i += ${RED}u) { a += part[2u * i]; b += part[2u * i + 1u]; }
  sl[lid] = a;
  sw[lid] = b;
  workgroupBarrier();
  for (var s = ${RED / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { sl[lid] += sl[lid + s]; sw[lid] += sw[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { y[0] = ${xt}(${g.reduction === 'mean' ? 'sl[0] / sw[0]' : 'sl[0]'}); }
}
`;
    passes.push({ label: `${label} reduce`, wgsl: red, workgroups: [1, 1, 1], buffers: [{ kind: 'scratch', index: 0 }, { kind: 'output', index: 0 }] });
  }
  if (g.logProb) {
    const n = elements(c.layer.outputs[1]);
    const lp = `${header([xt])}${decl(0, 'x', xt, 'read')}\n${decl(1, 'lp', xt, 'read_write')}\n${lseFn(g)}\n\n${entry1d(WG, n, `  let d = gid % ${g.D}u;
  let n = gid / ${g.C * g.D}u;
  lp[gid] = ${xt}(f32(x[gid]) - lse(n, d));`)}\n`;
    if (n > 0) passes.push(pass1d(`${label} log_prob`, lp, n, caps, [{ kind: 'input', index: 0 }, { kind: 'output', index: 1 }]));
  }
  return { passes, scratch: [Math.max(8, M * 8)] };
}

function referenceOf(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = geo(c);
  const x = values(inputs[0]!), t = values(inputs[1]!), w = g.weight ? values(inputs[2]!) : null;
  const M = g.N * g.D;
  const logp = new Float32Array(x.length);
  for (let n = 0; n < g.N; n++) {
    for (let d = 0; d < g.D; d++) {
      let m = -Infinity;
      for (let k = 0; k < g.C; k++) m = Math.max(m, x[(n * g.C + k) * g.D + d]);
      let s = 0;
      for (let k = 0; k < g.C; k++) s += Math.exp(x[(n * g.C + k) * g.D + d] - m);
      for (let k = 0; k < g.C; k++) logp[(n * g.C + k) * g.D + d] = g.sce ? x[(n * g.C + k) * g.D + d] - m - Math.log(s) : x[(n * g.C + k) * g.D + d];
    }
  }
  const loss = new Float32Array(M);
  let sl = 0, sw = 0;
  for (let i = 0; i < M; i++) {
    const n = Math.floor(i / g.D), d = i % g.D, tc = t[i];
    if (g.ii !== null && tc === g.ii) continue;
    const k = Math.min(Math.max(tc, 0), g.C - 1);
    const wk = w ? w[k] : 1;
    loss[i] = -logp[(n * g.C + k) * g.D + d] * wk;
    sl += loss[i];
    sw += wk;
  }
  const o = c.layer.outputs;
  const out: HostTensor[] = [{
    dtype: o[0].dtype, shape: [...o[0].shape],
    data: g.reduction === 'none' ? loss : Float32Array.of(g.reduction === 'mean' ? sl / sw : sl),
  }];
  if (g.logProb) out.push({ dtype: o[1].dtype, shape: [...o[1].shape], data: logp });
  return out;
}

function make(name: string, op: string): Kernel {
  return {
    name,
    ops: [op],
    variants: [{ name: 'naive', description: 'one invocation per position; one workgroup reduces for sum/mean' }],
    defaultVariant: () => 'naive',
    supports(c, variant, caps) {
      if (variant !== 'naive') return unsupported(`unknown variant ${variant}`);
      const s = check(c);
      if (!s.ok) return s;
      const g = geo(c);
      if (g.N * g.D * 8 > caps.maxStorageBufferBindingSize) return unsupported('the partial-sum scratch exceeds the storage binding limit');
      return checkTensors(c, caps, c.layer.inputs[2] ? [0, 1, 2] : [0, 1], Math.max(g.N * g.D, elements(c.layer.inputs[0]!)));
    },
    plan: (c, _v, caps) => planOf(c, caps),
    reference: referenceOf,
  };
}

export const kernels: Kernel[] = [make('nll-loss', 'NegativeLogLikelihoodLoss'), make('softmax-cross-entropy', 'SoftmaxCrossEntropyLoss')];
