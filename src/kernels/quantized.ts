/**
 * Quantized (8-bit) linear algebra and dynamic quantization:
 *  - MatMulInteger: Y(int32) = Σₖ (A − a_zp)(B − b_zp), numpy matmul shapes; a_zp per tensor or
 *    per row of A ([M]), b_zp per tensor or per column of B ([N]).
 *  - QLinearMatMul: the same product requantized: y = sat(round(acc · a_s·b_s / y_s) + y_zp);
 *    a's scale/zero point per tensor, b's per tensor or per column, y's per tensor.
 *  - ConvInteger: int32 convolution of (x − x_zp) with (w − w_zp), w_zp per tensor or per output
 *    channel; padded positions contribute nothing (as if padded with x_zp).
 *  - QLinearConv: that convolution plus the int32 bias, requantized like QLinearMatMul (w's scale
 *    per tensor or per output channel).
 *  - DynamicQuantizeLinear: uint8 quantization of float32 x with scale = (max(x, 0) − min(x, 0))/255
 *    and zero point round(−min/scale), saturated.
 * 8-bit tensors are widened to 32-bit words on the GPU (uint8 → u32, int8 → i32, GpuType's rule),
 * so reads are plain array reads; the 4× memory traffic is what an unpacked runtime would pay.
 * Requantization computes the multiplier a_s·w_s/y_s and the product in f32 and rounds half to
 * even (WGSL round), like onnxruntime's float requantization path; the references follow the same
 * f32 steps (Math.fround) so ties resolve identically.
 *
 * Variants: `naive` for the matmuls (one output element per invocation, a loop over K), `direct`
 * for the convolutions (one output element per invocation, loops over the group's channels and
 * the kernel window), `two-pass` for DynamicQuantizeLinear (one workgroup reduces min/max and
 * writes scale and zero point, then one element per invocation quantizes).
 */
import type { DType } from '../onnx/dtype.js';
import {
  supported, unsupported,
  type BufferRef, type DeviceCaps, type GpuType, type HostTensor, type Kernel, type KernelPlan, type LayerCase, type Support,
} from './types.js';
import type { LayerSignature, TensorType } from '../ir/types.js';
import { elements, entry1d, header, prod, stridesOf } from './wgsl.js';
import { WG, attrInts, attrNum, checkTensors, decl, emptyPlan, gt, nz, pass1d, values } from './movement.js';
import { geometry as matmulGeometry, matmulFlops, type Geometry } from './matmul.js';
import { convFlops } from './conv.js';
import { count } from './flops.js';
import { Q_RANGE, roundHalfEven } from './misc.js';

const f32 = Math.fround;


const is8bit = (t: TensorType | null | undefined): boolean => !!t && !!Q_RANGE[t.dtype];
const isScalarLike = (t: TensorType | null | undefined): boolean => !!t && elements(t) === 1;
/** A per-tensor (one element) or per-channel ([n]) parameter. */
const perTensorOr = (t: TensorType | null | undefined, n: number): boolean => !t || elements(t) === 1 || (t.shape.length === 1 && t.shape[0] === n);
const perIndex = (t: TensorType | null | undefined, idx: string): string => (!t || elements(t) === 1 ? '0u' : idx);

/** Input slots of each op: data, scale, zero point (A/X and B/W), output scale/zp, bias. */
interface Slots { a: number; as?: number; az?: number; b: number; bs?: number; bz?: number; ys?: number; yz?: number; bias?: number }
const SLOTS: Record<string, Slots> = {
  MatMulInteger: { a: 0, b: 1, az: 2, bz: 3 },
  ConvInteger: { a: 0, b: 1, az: 2, bz: 3 },
  QLinearMatMul: { a: 0, as: 1, az: 2, b: 3, bs: 4, bz: 5, ys: 6, yz: 7 },
  QLinearConv: { a: 0, as: 1, az: 2, b: 3, bs: 4, bz: 5, ys: 6, yz: 7, bias: 8 },
};

const slotsOf = (c: LayerCase): Slots => SLOTS[c.layer.op];
const present = (c: LayerCase, i: number | undefined): i is number => i !== undefined && !!c.layer.inputs[i];

/** Checks shared by the four products: 8-bit operands, zero points of the operand's type, float scales. */
function checkQuant(c: LayerCase, perA: number, perB: number): Support {
  const s = slotsOf(c);
  const l = c.layer;
  const a = l.inputs[s.a], b = l.inputs[s.b];
  if (!is8bit(a) || !is8bit(b)) return unsupported(`${a?.dtype ?? 'missing'} × ${b?.dtype ?? 'missing'} operands: only uint8/int8`);
  for (const [zs, data] of [[s.az, a], [s.bz, b], [s.yz, l.outputs[0]]] as const) {
    if (present(c, zs) && l.inputs[zs]!.dtype !== data!.dtype) return unsupported('a zero point differs in type from its tensor');
  }
  for (const sc of [s.as, s.bs, s.ys]) if (sc !== undefined && (!present(c, sc) || l.inputs[sc]!.dtype !== 'float32')) return unsupported('scales must be float32');
  if (present(c, s.az) && !perTensorOr(l.inputs[s.az], perA)) return unsupported('A/X zero point is neither per tensor nor per row');
  if (present(c, s.as) && !isScalarLike(l.inputs[s.as])) return unsupported('A/X scale is not per tensor');
  if (present(c, s.bz) && !perTensorOr(l.inputs[s.bz], perB)) return unsupported('B/W zero point is neither per tensor nor per column/channel');
  if (present(c, s.bs) && !perTensorOr(l.inputs[s.bs], perB)) return unsupported('B/W scale is neither per tensor nor per column/channel');
  if (present(c, s.ys) && !isScalarLike(l.inputs[s.ys])) return unsupported('y scale is not per tensor');
  if (present(c, s.yz) && !isScalarLike(l.inputs[s.yz])) return unsupported('y zero point is not per tensor');
  if (s.ys !== undefined ? !Q_RANGE[l.outputs[0].dtype] : l.outputs[0].dtype !== 'int32') return unsupported(`${l.outputs[0].dtype} output`);
  if (present(c, s.bias) && l.inputs[s.bias]!.dtype !== 'int32') return unsupported('bias must be int32');
  return supported;
}

/** Bound input slots in binding order with their WGSL names. */
function boundInputs(c: LayerCase): Array<[number, string]> {
  const s = slotsOf(c);
  const names: Array<[number | undefined, string]> = [[s.a, 'qa'], [s.b, 'qb'], [s.az, 'za'], [s.bz, 'zb'], [s.as, 'sa'], [s.bs, 'sb'], [s.ys, 'sy'], [s.yz, 'zy'], [s.bias, 'bias']];
  return names.filter((x): x is [number, string] => present(c, x[0])).map(([i, n]) => [i, n]);
}

function declsFor(c: LayerCase): { decls: string; buffers: BufferRef[]; types: GpuType[] } {
  const ins = boundInputs(c);
  const types = ins.map(([i]) => gt(c.layer.inputs[i]!));
  const yt = gt(c.layer.outputs[0]);
  return {
    decls: [...ins.map(([, n], k) => decl(k, n, types[k], 'read')), decl(ins.length, 'y', yt, 'read_write')].join('\n'),
    buffers: [...ins.map(([index]) => ({ kind: 'input' as const, index })), { kind: 'output', index: 0 }],
    types: [...types, yt],
  };
}

/**
 * WGSL: the final store of `acc` (i32) for output channel/column index `ch`: as is (int32 output)
 * or requantized (QLinear ops), bias added first where present.
 */
function storeWgsl(c: LayerCase, ch: string): string {
  const s = slotsOf(c);
  const l = c.layer;
  const bias = present(c, s.bias) ? ` + bias[${ch}]` : '';
  if (s.ys === undefined) return `  y[gid] = acc${bias};`;
  const [lo, hi] = Q_RANGE[l.outputs[0].dtype]!;
  const yt = gt(l.outputs[0]);
  const zy = present(c, s.yz) ? 'f32(zy[0])' : '0.0f';
  return `  let mult = (sa[0] * sb[${perIndex(l.inputs[s.bs!], ch)}]) / sy[0];
  let q = round(f32(acc${bias}) * mult) + ${zy};
  y[gid] = ${yt}(clamp(q, ${lo}.0f, ${hi}.0f));`;
}

/** Host version of storeWgsl. */
function storeHost(c: LayerCase, ins: Array<HostTensor | null>, acc: number, ch: number): number {
  const s = slotsOf(c);
  const v = (i: number | undefined, k: number): number => (i !== undefined && ins[i] ? values(ins[i]!)[ins[i]!.data.length === 1 ? 0 : k] : 0);
  const a = acc + (present(c, s.bias) ? v(s.bias, ch) : 0);
  if (s.ys === undefined) return a | 0;
  const [lo, hi] = Q_RANGE[c.layer.outputs[0].dtype]!;
  const mult = f32(f32(v(s.as, 0) * v(s.bs, ch)) / v(s.ys, 0));
  const q = roundHalfEven(f32(f32(a) * mult)) + v(s.yz, 0);
  return Math.max(lo, Math.min(hi, q));
}

function outArray(t: TensorType): HostTensor['data'] {
  const n = elements(t);
  return t.dtype === 'uint8' ? new Uint8Array(n) : t.dtype === 'int8' ? new Int8Array(n) : new Int32Array(n);
}

// ---------------------------------------------------------------------------------------------
// MatMulInteger / QLinearMatMul

function mmGeometry(c: LayerCase): Geometry {
  const s = slotsOf(c);
  const l = c.layer;
  return matmulGeometry({ layer: { ...l, op: 'MatMul', inputs: [l.inputs[s.a], l.inputs[s.b]] }, consts: [] });
}

function mmCheck(c: LayerCase): Support {
  const s = slotsOf(c);
  const a = c.layer.inputs[s.a], b = c.layer.inputs[s.b];
  if (!a || !b || a.shape.length === 0 || b.shape.length === 0) return unsupported('operands must have rank ≥ 1');
  const g = mmGeometry(c);
  return checkQuant(c, g.M, g.N);
}

function mmPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = mmGeometry(c);
  const s = slotsOf(c);
  const n = elements(c.layer.outputs[0]);
  const label = `quantized/naive ${c.layer.op}`;
  if (n === 0) return emptyPlan(label, gt(c.layer.outputs[0]));
  const { decls, buffers, types } = declsFor(c);
  const bs = g.batchShape;
  const bst = stridesOf(bs);
  const aOff = bs.map((d, i) => (g.aBatch[i] ? ` + ((bt / ${bst[i]}u) % ${d}u) * ${g.aBatch[i]}u` : '')).join('');
  const bOff = bs.map((d, i) => (g.bBatch[i] ? ` + ((bt / ${bst[i]}u) % ${d}u) * ${g.bBatch[i]}u` : '')).join('');
  const za = present(c, s.az) ? `i32(za[${perIndex(c.layer.inputs[s.az], 'm')}])` : '0i';
  const zb = present(c, s.bz) ? `i32(zb[${perIndex(c.layer.inputs[s.bz], 'n')}])` : '0i';
  const body = `  let n = gid % ${nz(g.N)}u;
  let m = (gid / ${nz(g.N)}u) % ${nz(g.M)}u;
  let bt = gid / ${nz(g.N * g.M)}u;
  let ao = m * ${g.sAm}u${aOff};
  let bo = n * ${g.sBn}u${bOff};
  let za0 = ${za};
  let zb0 = ${zb};
  var acc = 0i;
  for (var k = 0u; k < ${g.K}u; k++) {
    acc += (i32(qa[ao + k * ${g.sAk}u]) - za0) * (i32(qb[bo + k * ${g.sBk}u]) - zb0);
  }
${storeWgsl(c, 'n')}`;
  const wgsl = `${header(types)}${decls}\n\n${entry1d(WG, n, body)}\n`;
  return { passes: [pass1d(label, wgsl, n, caps, buffers)], scratch: [] };
}

function mmReference(c: LayerCase, ins: Array<HostTensor | null>): HostTensor[] {
  const g = mmGeometry(c);
  const s = slotsOf(c);
  const A = values(ins[s.a]!), B = values(ins[s.b]!);
  const zA = present(c, s.az) && ins[s.az] ? values(ins[s.az]!) : null;
  const zB = present(c, s.bz) && ins[s.bz] ? values(ins[s.bz]!) : null;
  const o = c.layer.outputs[0];
  const data = outArray(o);
  const bst = stridesOf(g.batchShape);
  for (let bt = 0; bt < g.batch; bt++) {
    let ab = 0, bb = 0;
    g.batchShape.forEach((d, i) => { const x = Math.floor(bt / bst[i]) % d; ab += x * g.aBatch[i]; bb += x * g.bBatch[i]; });
    for (let m = 0; m < g.M; m++) {
      for (let n = 0; n < g.N; n++) {
        const za = zA ? zA[zA.length === 1 ? 0 : m] : 0;
        const zb = zB ? zB[zB.length === 1 ? 0 : n] : 0;
        let acc = 0;
        for (let k = 0; k < g.K; k++) acc += (A[ab + m * g.sAm + k * g.sAk] - za) * (B[bb + k * g.sBk + n * g.sBn] - zb);
        data[(bt * g.M + m) * g.N + n] = storeHost(c, ins, acc, n);
      }
    }
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data }];
}

// ---------------------------------------------------------------------------------------------
// ConvInteger / QLinearConv

interface ConvGeo { nd: number; N: number; C: number; M: number; G: number; Cg: number; Mg: number; ins: number[]; outs: number[]; k: number[]; s: number[]; d: number[]; pb: number[] }

function convGeo(c: LayerCase): ConvGeo {
  const sl = slotsOf(c);
  const x = c.layer.inputs[sl.a]!, w = c.layer.inputs[sl.b]!, y = c.layer.outputs[0];
  const nd = x.shape.length - 2;
  const G = attrNum(c, 'group', 1);
  const pads = attrInts(c, 'pads') ?? new Array<number>(2 * nd).fill(0);
  return {
    nd, N: x.shape[0], C: x.shape[1], M: y.shape[1], G, Cg: x.shape[1] / G, Mg: y.shape[1] / G,
    ins: x.shape.slice(2), outs: y.shape.slice(2), k: w.shape.slice(2),
    s: attrInts(c, 'strides') ?? new Array<number>(nd).fill(1),
    d: attrInts(c, 'dilations') ?? new Array<number>(nd).fill(1),
    pb: pads.slice(0, nd),
  };
}

function convCheck(c: LayerCase): Support {
  const sl = slotsOf(c);
  const x = c.layer.inputs[sl.a], w = c.layer.inputs[sl.b];
  if (!x || !w || x.shape.length < 3 || w.shape.length !== x.shape.length) return unsupported('X and W must have the same rank ≥ 3');
  const g = convGeo(c);
  if (!Number.isInteger(g.Cg) || w.shape[1] !== g.Cg || w.shape[0] !== g.M || g.M % g.G !== 0) return unsupported('channels do not match group');
  if (g.s.length !== g.nd || g.d.length !== g.nd || g.pb.length !== g.nd) return unsupported('strides, dilations or pads do not match the spatial rank');
  const q = checkQuant(c, 1, g.M);
  if (!q.ok) return q;
  if (present(c, sl.az) && !isScalarLike(c.layer.inputs[sl.az])) return unsupported('x zero point is not per tensor');
  if (present(c, sl.bias) && elements(c.layer.inputs[sl.bias]!) !== g.M) return unsupported('bias length differs from the output channels');
  return supported;
}

function convPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const g = convGeo(c);
  const sl = slotsOf(c);
  const n = elements(c.layer.outputs[0]);
  const label = `quantized/direct ${c.layer.op}`;
  if (n === 0) return emptyPlan(label, gt(c.layer.outputs[0]));
  const { decls, buffers, types } = declsFor(c);
  const oStr = stridesOf(g.outs);
  const iStr = stridesOf(g.ins);
  const kStr = stridesOf(g.k);
  const OS = prod(g.outs), IS = prod(g.ins), KS = prod(g.k);
  const dims = Array.from({ length: g.nd }, (_, i) => i);
  const za = present(c, sl.az) ? 'i32(za[0])' : '0i';
  const zb = present(c, sl.bz) ? `i32(zb[${perIndex(c.layer.inputs[sl.bz], 'm')}])` : '0i';
  // One loop per kernel dim; positions outside the input (padding) contribute nothing.
  const open = dims.map((i) => `${'  '.repeat(i + 2)}for (var k${i} = 0u; k${i} < ${g.k[i]}u; k${i}++) {
${'  '.repeat(i + 3)}let p${i} = i32(o${i} * ${g.s[i]}u + k${i} * ${g.d[i]}u) - ${g.pb[i]}i;
${'  '.repeat(i + 3)}if (p${i} < 0i || p${i} >= ${g.ins[i]}i) { continue; }`).join('\n');
  const close = dims.map((i) => `${'  '.repeat(g.nd - i + 1)}}`).join('\n');
  const xi = dims.map((i) => `u32(p${i}) * ${iStr[i]}u`).join(' + ');
  const wi = dims.map((i) => `k${i} * ${kStr[i]}u`).join(' + ');
  const body = `  let sp = gid % ${OS}u;
  let m = (gid / ${OS}u) % ${g.M}u;
  let b = gid / ${OS * g.M}u;
${dims.map((i) => `  let o${i} = (sp / ${oStr[i]}u) % ${g.outs[i]}u;`).join('\n')}
  let c0 = (m / ${g.Mg}u) * ${g.Cg}u;
  let za0 = ${za};
  let zb0 = ${zb};
  var acc = 0i;
  for (var ci = 0u; ci < ${g.Cg}u; ci++) {
    let xb = (b * ${g.C}u + c0 + ci) * ${IS}u;
    let wb = (m * ${g.Cg}u + ci) * ${KS}u;
${open}
${'  '.repeat(g.nd + 2)}acc += (i32(qa[xb + ${xi}]) - za0) * (i32(qb[wb + ${wi}]) - zb0);
${close}
  }
${storeWgsl(c, 'm')}`;
  const wgsl = `${header(types)}${decls}\n\n${entry1d(WG, n, body)}\n`;
  return { passes: [pass1d(label, wgsl, n, caps, buffers)], scratch: [] };
}

function convReference(c: LayerCase, ins: Array<HostTensor | null>): HostTensor[] {
  const g = convGeo(c);
  const sl = slotsOf(c);
  const X = values(ins[sl.a]!), W = values(ins[sl.b]!);
  const zX = present(c, sl.az) && ins[sl.az] ? values(ins[sl.az]!)[0] : 0;
  const zW = present(c, sl.bz) && ins[sl.bz] ? values(ins[sl.bz]!) : null;
  const o = c.layer.outputs[0];
  const data = outArray(o);
  const OS = prod(g.outs), IS = prod(g.ins), KS = prod(g.k);
  const oStr = stridesOf(g.outs), iStr = stridesOf(g.ins), kStr = stridesOf(g.k);
  for (let idx = 0; idx < data.length; idx++) {
    const sp = idx % OS, m = Math.floor(idx / OS) % g.M, b = Math.floor(idx / (OS * g.M));
    const oi = g.outs.map((d, i) => Math.floor(sp / oStr[i]) % d);
    const zw = zW ? zW[zW.length === 1 ? 0 : m] : 0;
    const c0 = Math.floor(m / g.Mg) * g.Cg;
    let acc = 0;
    for (let ci = 0; ci < g.Cg; ci++) {
      for (let kk = 0; kk < KS; kk++) {
        let xo = 0, inside = true;
        for (let i = 0; i < g.nd; i++) {
          const p = oi[i] * g.s[i] + (Math.floor(kk / kStr[i]) % g.k[i]) * g.d[i] - g.pb[i];
          if (p < 0 || p >= g.ins[i]) { inside = false; break; }
          xo += p * iStr[i];
        }
        if (!inside) continue;
        acc += (X[(b * g.C + c0 + ci) * IS + xo] - zX) * (W[(m * g.Cg + ci) * KS + kk] - zw);
      }
    }
    data[idx] = storeHost(c, ins, acc, m);
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data }];
}

// ---------------------------------------------------------------------------------------------
// DynamicQuantizeLinear

/** Workgroup size of the min/max reduction (one workgroup). */
const RED = 256;

function dqlCheck(c: LayerCase): Support {
  const x = c.layer.inputs[0];
  if (!x || x.dtype !== 'float32') return unsupported(`${x?.dtype ?? 'missing'} input: only float32`);
  if (c.layer.outputs.length !== 3) return unsupported('needs its three outputs');
  return supported;
}

function dqlPlan(c: LayerCase, caps: DeviceCaps): KernelPlan {
  const n = elements(c.layer.inputs[0]!);
  const label = 'quantized/two-pass DynamicQuantizeLinear';
  // Scale and zero point: x range extended to include 0 (so 0 is exact), zp = round(−min/scale).
  // An all-zero input has scale 0; the zero point is then 0 and every y is 0.
  const reduce = `${decl(0, 'x', 'f32', 'read')}
${decl(1, 'ys', 'f32', 'read_write')}
${decl(2, 'yz', 'u32', 'read_write')}
var<workgroup> lo: array<f32, ${RED}>;
var<workgroup> hi: array<f32, ${RED}>;

@compute @workgroup_size(${RED})
fn main(@builtin(local_invocation_index) lid: u32) {
  var a = 0.0f;
  var b = 0.0f;
  for (var i = lid; i < ${n}u; i += ${RED}u) { let v = x[i]; a = min(a, v); b = max(b, v); }
  lo[lid] = a;
  hi[lid] = b;
  workgroupBarrier();
  for (var s = ${RED / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { lo[lid] = min(lo[lid], lo[lid + s]); hi[lid] = max(hi[lid], hi[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let scale = (hi[0] - lo[0]) / 255.0f;
    ys[0] = scale;
    yz[0] = select(0u, u32(clamp(round(-lo[0] / scale), 0.0f, 255.0f)), scale > 0.0f);
  }
}
`;
  const quant = `${decl(0, 'x', 'f32', 'read')}
${decl(1, 'ys', 'f32', 'read')}
${decl(2, 'yz', 'u32', 'read')}
${decl(3, 'y', 'u32', 'read_write')}

${entry1d(WG, n, `  let s = ys[0];
  if (s <= 0.0f) { y[gid] = 0u; return; }
  y[gid] = u32(clamp(round(x[gid] / s) + f32(yz[0]), 0.0f, 255.0f));`)}
`;
  const X: BufferRef = { kind: 'input', index: 0 };
  const passes = [{ label: `${label} range`, wgsl: reduce, workgroups: [1, 1, 1] as [number, number, number], buffers: [X, { kind: 'output' as const, index: 1 }, { kind: 'output' as const, index: 2 }] }];
  if (n > 0) passes.push(pass1d(`${label} quantize`, quant, n, caps, [X, { kind: 'output', index: 1 }, { kind: 'output', index: 2 }, { kind: 'output', index: 0 }]));
  return { passes, scratch: [] };
}

function dqlReference(c: LayerCase, ins: Array<HostTensor | null>): HostTensor[] {
  const x = values(ins[0]!);
  let lo = 0, hi = 0;
  for (const v of x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const scale = f32(f32(hi - lo) / 255);
  const zp = scale > 0 ? Math.max(0, Math.min(255, roundHalfEven(f32(-lo / scale)))) : 0;
  const y = new Uint8Array(x.length);
  if (scale > 0) for (let i = 0; i < x.length; i++) y[i] = Math.max(0, Math.min(255, roundHalfEven(f32(x[i] / scale)) + zp));
  const o = c.layer.outputs;
  return [
    { dtype: 'uint8', shape: [...o[0].shape], data: y },
    { dtype: 'float32', shape: [...o[1].shape], data: Float32Array.of(scale) },
    { dtype: 'uint8', shape: [...o[2].shape], data: Uint8Array.of(zp) },
  ];
}

// ---------------------------------------------------------------------------------------------

interface Family {
  ops: string[];
  variant: string;
  description: string;
  check(c: LayerCase): Support;
  plan(c: LayerCase, caps: DeviceCaps): KernelPlan;
  reference(c: LayerCase, ins: Array<HostTensor | null>): HostTensor[];
  inputDomain?: Kernel['inputDomain'];
  cost: NonNullable<Kernel['cost']>;
}

/**
 * QLinear's requantization scales (inputs 1, 4 and 6): positive, and y's large enough that the
 * outputs do not all saturate.
 */
const qlinearScales: Kernel['inputDomain'] = (op, i) => (!op.startsWith('QLinear') ? undefined : i === 1 || i === 4 ? [0.01, 0.05] : i === 6 ? [0.5, 1] : undefined);

function makeKernel(name: string, f: Family): Kernel {
  return {
    name,
    ops: f.ops,
    variants: [{ name: f.variant, description: f.description }],
    defaultVariant: () => f.variant,
    supports(c, variant, caps) {
      if (variant !== f.variant) return unsupported(`unknown variant ${variant}`);
      const s = f.check(c);
      if (!s.ok) return s;
      const bound = c.layer.inputs.map((t, i) => (t ? i : -1)).filter((i) => i >= 0);
      if (bound.length + c.layer.outputs.length > caps.maxStorageBuffersPerShaderStage) return unsupported(`${bound.length + c.layer.outputs.length} tensors exceed the device's storage buffers per stage`);
      return checkTensors(c, caps, bound, elements(c.layer.outputs[0]));
    },
    plan: (c, _v, caps) => f.plan(c, caps),
    reference: f.reference,
    inputDomain: f.inputDomain,
    cost: f.cost,
  };
}

/**
 * The convolution's count (conv.ts convFlops): W is input 1 of ConvInteger and input 3 of
 * QLinearConv; QLinearConv's bias is input 8. ConvInteger's input 2 (x_zero_point), when given,
 * is counted as a bias would be: one operation per output.
 */
function convCost(l: LayerSignature): number {
  const q = l.op === 'QLinearConv';
  if (!l.inputs[0]) return 0;
  return convFlops(l.inputs[q ? 3 : 1], l.outputs[0], l.inputs[q ? 8 : 2]);
}

export const kernels: Kernel[] = [
  makeKernel('quantized-matmul', {
    ops: ['MatMulInteger', 'QLinearMatMul'], variant: 'naive', description: 'one output element per invocation, i32 accumulation over K',
    check: mmCheck, plan: mmPlan, reference: mmReference, inputDomain: qlinearScales,
    // As MatMul (matmul.ts matmulFlops): 2·K per output element.
    cost: (l) => matmulFlops(l.inputs[0], l.outputs[0]),
  }),
  makeKernel('quantized-conv', {
    ops: ['ConvInteger', 'QLinearConv'], variant: 'direct', description: 'one output element per invocation, i32 accumulation over the window',
    check: convCheck, plan: convPlan, reference: convReference, inputDomain: qlinearScales,
    cost: convCost,
  }),
  makeKernel('dynamic-quantize', {
    ops: ['DynamicQuantizeLinear'], variant: 'two-pass', description: 'one workgroup reduces the range, then one element per invocation',
    check: dqlCheck, plan: dqlPlan, reference: dqlReference,
    // As QuantizeLinear (misc.ts): divide by the scale, round, add the zero point: 3 per element of x.
    cost: (l) => 3 * count(l.inputs[0]),
  }),
];
