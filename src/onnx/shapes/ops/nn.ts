/**
 * Neural-network ops: convolutions, pooling, normalizations, softmax family, matrix products,
 * Einsum, recurrent layers and (de)quantization. Semantics follow the ONNX operator spec
 * (docs/Operators.md) per opset; every attribute is read with its ONNX default so that the
 * recorded attributes are canonical (see nn-util.ts for the window/pads normalization).
 */
import type { Dim } from '../types.js';
import { dtypeFromOnnx, type DType } from '../../dtype.js';
import { ShapeError, type InferCtx, type OpSpec, type TensorInfo } from '../types.js';
import { broadcastShapes, normAxis } from '../util.js';
import {
  effectiveKernel, intsValue, readWindow, reducedShape, shapeAtLeast, unify, windowOutput,
} from './nn-util.js';

const same = (ctx: InferCtx): TensorInfo[] => [{ dtype: ctx.dtype(0), shape: ctx.shape(0) }];

// ---------------------------------------------------------------------------------------------
// Convolutions

interface ConvSlots {
  x: number;
  w: number;
  bias?: number;
  /** Output dtype (Conv: X's; ConvInteger: int32; QLinearConv: y_zero_point's). */
  dtype(ctx: InferCtx): DType;
}

/** Conv-style ops: Y[N, M, out…] from X[N, C, in…] and W[M, C/group, k…]. */
function convLike(slots: ConvSlots, extraInputs?: (ctx: InferCtx, out: Dim[], kernel: number[]) => void): OpSpec {
  return {
    infer: (ctx) => {
      const xs = shapeAtLeast(ctx, slots.x, 3, 'input X');
      const ws = ctx.shape(slots.w);
      const n = xs.length - 2;
      if (ws.length !== xs.length) ctx.fail(`weight W has rank ${ws.length} [${ws.join(',')}], but X has rank ${xs.length} [${xs.join(',')}]`);
      const group = ctx.attr.int('group', 1);
      if (group < 1) ctx.fail(`group must be ≥ 1, got ${group}`);
      const [c, cw, m] = [xs[1], ws[1], ws[0]];
      if (typeof c === 'number' && typeof cw === 'number' && c !== group * cw) {
        ctx.fail(`channel mismatch: X has ${c} channels but W [${ws.join(',')}] expects group (${group}) × ${cw} = ${group * cw}`);
      }
      if (typeof m === 'number' && m % group !== 0) ctx.fail(`W's output channels ${m} are not divisible by group ${group}`);
      const win = readWindow(ctx, { n, kernelFromWeight: ws.slice(2), dilations: true });
      win.kernel.forEach((k, i) => {
        const wk = ws[2 + i];
        if (typeof wk === 'number' && wk !== k) ctx.fail(`kernel_shape [${win.kernel.join(',')}] does not match W's spatial dims [${ws.slice(2).join(',')}]`);
      });
      const spatial = windowOutput(ctx, xs.slice(2), win);
      if (slots.bias !== undefined && ctx.has(slots.bias)) {
        const bs = ctx.shape(slots.bias);
        if (bs.length !== 1) ctx.fail(`bias B must be 1-D [${m}], got [${bs.join(',')}]`);
        unify(ctx, bs[0], m, 'bias length vs output channels');
      }
      const out: Dim[] = [xs[0], m, ...spatial];
      extraInputs?.(ctx, out, win.kernel);
      return [{ dtype: slots.dtype(ctx), shape: out }];
    },
  };
}

/**
 * ConvTranspose: out = stride·(in − 1) + output_padding + effective kernel − pads (ONNX spec),
 * or the given output_shape / SAME (in·stride), with the total padding split per auto_pad.
 * Records pads and output_padding as an explicit-pads layer would need them.
 */
const convTranspose: OpSpec = {
  infer: (ctx) => {
    const xs = shapeAtLeast(ctx, 0, 3, 'input X');
    const ws = ctx.shape(1);
    const n = xs.length - 2;
    if (ws.length !== xs.length) ctx.fail(`weight W has rank ${ws.length} [${ws.join(',')}], but X has rank ${xs.length} [${xs.join(',')}]`);
    const group = ctx.attr.int('group', 1);
    if (group < 1) ctx.fail(`group must be ≥ 1, got ${group}`);
    unify(ctx, xs[1], ws[0], `channel mismatch: X's channels vs W's first dim (W is [${ws.join(',')}])`);
    const m: Dim = typeof ws[1] === 'number' ? ws[1] * group : ctx.symbol('channels');
    const win = readWindow(ctx, { n, kernelFromWeight: ws.slice(2), dilations: true });
    const outPad = [...ctx.attr.ints('output_padding', new Array<number>(n).fill(0))];
    if (outPad.length !== n) ctx.fail(`output_padding has ${outPad.length} values; the input has ${n} spatial dims`);
    let outShape: number[] | undefined;
    if (ctx.attr.has('output_shape')) {
      const os = ctx.attr.ints('output_shape');
      // Older exporters wrote the full [N, C, spatial…] shape.
      outShape = os.length === n + 2 ? os.slice(2) : os;
      if (outShape.length !== n) ctx.fail(`output_shape [${os.join(',')}] does not have ${n} spatial dims`);
    }
    const pads = [...win.pads];
    const spatial: Dim[] = [];
    let resolved = true;
    for (let i = 0; i < n; i++) {
      const x = xs[2 + i];
      const s = win.strides[i];
      const ek = effectiveKernel(win.kernel[i], win.dilations[i]);
      if (typeof x === 'string') {
        spatial.push(outShape ? outShape[i] : ctx.symbol('spatial'));
        if (outShape || win.autoPad.startsWith('SAME')) resolved = false;
        continue;
      }
      const full = s * (x - 1) + outPad[i] + ek;
      let target: number;
      if (outShape) target = outShape[i];
      else if (win.autoPad.startsWith('SAME')) target = x * s;
      else {
        target = full - pads[i] - pads[i + n];
        if (target <= 0) ctx.fail(`output spatial dim ${i} would be ${target}`);
        spatial.push(target);
        continue;
      }
      let total = full - target;
      if (total < 0) {
        // The output is larger than the un-padded result: the excess is output padding.
        outPad[i] -= total;
        total = 0;
      }
      const half = Math.floor(total / 2);
      // Spec: SAME_UPPER puts the odd unit at the end; SAME_LOWER and output_shape at the start.
      pads[i] = win.autoPad === 'SAME_UPPER' ? half : total - half;
      pads[i + n] = total - pads[i];
      spatial.push(target);
    }
    if (resolved) {
      ctx.setAttr('pads', pads);
      ctx.setAttr('auto_pad', 'NOTSET');
      ctx.setAttr('output_padding', outPad);
      // Resolved pads and output_padding say all output_shape said: keys match the explicit form.
      ctx.dropAttr('output_shape');
    }
    if (ctx.has(2)) {
      const bs = ctx.shape(2);
      if (bs.length !== 1) ctx.fail(`bias B must be 1-D, got [${bs.join(',')}]`);
      unify(ctx, bs[0], m, 'bias length vs output channels');
    }
    return [{ dtype: ctx.dtype(0), shape: [xs[0], m, ...spatial] }];
  },
};

/** DeformConv (opset 19): Conv geometry plus offset [N, offset_group·2·∏k, out…] and mask. */
const deformConv = convLike({ x: 0, w: 1, bias: 3, dtype: (ctx) => ctx.dtype(0) }, (ctx, out, kernel) => {
  const og = ctx.attr.int('offset_group', 1);
  const kk = kernel.reduce((a, b) => a * b, 1);
  const os = ctx.shape(2);
  if (os.length !== out.length) ctx.fail(`offset has rank ${os.length}, expected ${out.length}`);
  unify(ctx, os[1], og * 2 * kk, `offset channels (offset_group ${og} × 2 × kernel size ${kk})`);
  for (let i = 2; i < out.length; i++) unify(ctx, os[i], out[i], `offset spatial dim ${i - 2} vs output`);
  if (ctx.has(4)) {
    const ms = ctx.shape(4);
    if (ms.length !== out.length) ctx.fail(`mask has rank ${ms.length}, expected ${out.length}`);
    unify(ctx, ms[1], og * kk, `mask channels (offset_group ${og} × kernel size ${kk})`);
  }
});

/**
 * An mmcv-style pair attribute (stride, padding, dilation): the symbolic passes the module's
 * `_pair`s (INTS of 2), the functional form may pass one INT for both dims. Recorded as the pair.
 */
function pairAttr(ctx: InferCtx, name: string, def: number): [number, number] {
  let v: number[];
  try {
    v = ctx.attr.ints(name, [def, def]);
  } catch (e) {
    // Not a list: the one-int form (any other type fails again here with the reader's message).
    if (!(e instanceof ShapeError)) throw e;
    v = [ctx.attr.int(name)];
  }
  if (v.length !== 1 && v.length !== 2) ctx.fail(`attribute '${name}' has ${v.length} values; expected 1 or 2`);
  const p: [number, number] = [v[0], v[v.length - 1]];
  ctx.setAttr(name, p);
  return p;
}

/**
 * mmcv's modulated deformable convolution (DCNv2) as mmcv's ONNX symbolic writes it, op
 * `MMCVModulatedDeformConv2d` in domain `mmcv` (mmdeploy's rewriter: domain `mmdeploy`): inputs
 * x [N, C, H, W], offset [N, deform_groups·2·kH·kW, oH, oW], mask [N, deform_groups·kH·kW, oH, oW],
 * weight [M, C/groups, kH, kW], optional bias [M]; attributes stride, padding (symmetric),
 * dilation, groups, deform_groups. Output [N, M, oH, oW] as a Conv with those attributes.
 */
const mmcvModulatedDeformConv: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    const ws = ctx.shape(3);
    if (xs.length !== 4) ctx.fail(`input x must be 4-D [N, C, H, W], got [${xs.join(',')}]`);
    if (ws.length !== 4) ctx.fail(`weight must be 4-D [M, C/groups, kH, kW], got [${ws.join(',')}]`);
    const stride = pairAttr(ctx, 'stride', 1);
    const padding = pairAttr(ctx, 'padding', 0);
    const dilation = pairAttr(ctx, 'dilation', 1);
    const groups = ctx.attr.int('groups', 1);
    const dg = ctx.attr.int('deform_groups', 1);
    if (groups < 1 || dg < 1) ctx.fail(`groups (${groups}) and deform_groups (${dg}) must be ≥ 1`);
    if ([...stride, ...dilation].some((v) => v < 1) || padding.some((v) => v < 0)) {
      ctx.fail(`stride [${stride.join(',')}] and dilation [${dilation.join(',')}] must be ≥ 1, padding [${padding.join(',')}] ≥ 0`);
    }
    const [c, cw, m] = [xs[1], ws[1], ws[0]];
    if (typeof c === 'number' && typeof cw === 'number' && c !== groups * cw) {
      ctx.fail(`channel mismatch: x has ${c} channels but weight [${ws.join(',')}] expects groups (${groups}) × ${cw} = ${groups * cw}`);
    }
    if (typeof m === 'number' && m % groups !== 0) ctx.fail(`weight's output channels ${m} are not divisible by groups ${groups}`);
    if (typeof c === 'number' && c % dg !== 0) ctx.fail(`x's ${c} channels are not divisible by deform_groups ${dg}`);
    const kernel = ws.slice(2).map((k) => (typeof k === 'number' ? k : ctx.fail('weight must have static kernel dims')));
    const spatial = windowOutput(ctx, xs.slice(2), {
      kernel, strides: stride, dilations: dilation, pads: [padding[0], padding[1], padding[0], padding[1]], autoPad: 'NOTSET',
    });
    // windowOutput records ONNX-style pads/auto_pad; this op's own `padding` already says it.
    ctx.dropAttr('pads');
    ctx.dropAttr('auto_pad');
    const out: Dim[] = [xs[0], m, ...spatial];
    const kk = kernel[0] * kernel[1];
    for (const [slot, what, ch] of [[1, 'offset', dg * 2 * kk], [2, 'mask', dg * kk]] as const) {
      const s = ctx.shape(slot);
      if (s.length !== 4) ctx.fail(`${what} must be 4-D, got [${s.join(',')}]`);
      unify(ctx, s[0], out[0], `${what} batch vs x batch`);
      unify(ctx, s[1], ch, `${what} channels (deform_groups ${dg} × ${what === 'offset' ? '2 × ' : ''}kernel size ${kk})`);
      for (let i = 2; i < 4; i++) unify(ctx, s[i], out[i], `${what} spatial dim ${i - 2} vs output`);
    }
    if (ctx.has(4)) {
      const bs = ctx.shape(4);
      if (bs.length !== 1) ctx.fail(`bias must be 1-D [${m}], got [${bs.join(',')}]`);
      unify(ctx, bs[0], m, 'bias length vs output channels');
    }
    return [{ dtype: ctx.dtype(0), shape: out }];
  },
};

// ---------------------------------------------------------------------------------------------
// Pooling

interface PoolOptions {
  /** Opset from which `ceil_mode` exists. */
  ceilFrom: number;
  /** Opset from which `dilations` exists. */
  dilationsFrom: number;
  indices?: boolean;
  extra?: (ctx: InferCtx) => void;
}

function pool(o: PoolOptions): OpSpec {
  return {
    infer: (ctx) => {
      const xs = shapeAtLeast(ctx, 0, 3, 'input X');
      o.extra?.(ctx);
      const win = readWindow(ctx, { n: xs.length - 2, dilations: ctx.opset >= o.dilationsFrom });
      const ceil = ctx.opset >= o.ceilFrom ? ctx.attr.int('ceil_mode', 0) !== 0 : false;
      const shape = [xs[0], xs[1], ...windowOutput(ctx, xs.slice(2), win, ceil)];
      const out: TensorInfo[] = [{ dtype: ctx.dtype(0), shape }];
      if (o.indices) out.push({ dtype: 'int64', shape });
      return out;
    },
  };
}

function globalPool(extra?: (ctx: InferCtx) => void): OpSpec {
  return {
    infer: (ctx) => {
      const xs = shapeAtLeast(ctx, 0, 3, 'input X');
      extra?.(ctx);
      return [{ dtype: ctx.dtype(0), shape: [xs[0], xs[1], ...xs.slice(2).map(() => 1)] }];
    },
  };
}

const lpP = (ctx: InferCtx): void => {
  // LpPool-1 had a float `p`; from opset 2 it is an int.
  if (ctx.opset < 2) ctx.attr.float('p', 2);
  else ctx.attr.int('p', 2);
};

const maxRoiPool: OpSpec = {
  infer: (ctx) => {
    const xs = shapeAtLeast(ctx, 0, 3, 'input X');
    const rs = ctx.shape(1);
    const pooled = ctx.attr.ints('pooled_shape');
    ctx.attr.float('spatial_scale', 1);
    if (rs.length !== 2) ctx.fail(`rois must be 2-D [num_rois, 5], got [${rs.join(',')}]`);
    return [{ dtype: ctx.dtype(0), shape: [rs[0], xs[1], ...pooled] }];
  },
};

const roiAlign: OpSpec = {
  infer: (ctx) => {
    const xs = shapeAtLeast(ctx, 0, 4, 'input X');
    const rs = ctx.shape(1);
    if (rs.length !== 2) ctx.fail(`rois must be 2-D [num_rois, 4], got [${rs.join(',')}]`);
    unify(ctx, rs[1], 4, 'rois second dim');
    if (ctx.opset >= 16) ctx.attr.string('coordinate_transformation_mode', 'half_pixel');
    ctx.attr.string('mode', 'avg');
    const oh = ctx.attr.int('output_height', 1);
    const ow = ctx.attr.int('output_width', 1);
    ctx.attr.int('sampling_ratio', 0);
    ctx.attr.float('spatial_scale', 1);
    return [{ dtype: ctx.dtype(0), shape: [rs[0], xs[1], oh, ow] }];
  },
};

/** MaxUnpool: output_shape input when given, else (in − 1)·stride + kernel − pads. */
const maxUnpool: OpSpec = {
  infer: (ctx) => {
    const xs = shapeAtLeast(ctx, 0, 3, 'input X');
    const n = xs.length - 2;
    const kernel = ctx.attr.ints('kernel_shape');
    const strides = ctx.attr.ints('strides', new Array<number>(n).fill(1));
    const pads = ctx.attr.ints('pads', new Array<number>(2 * n).fill(0));
    if (kernel.length !== n || strides.length !== n || pads.length !== 2 * n) ctx.fail(`kernel_shape/strides/pads do not match ${n} spatial dims`);
    if (ctx.has(2)) {
      const v = intsValue(ctx, 2);
      if (v) {
        if (v.length !== xs.length) ctx.fail(`output_shape [${v.join(',')}] does not have rank ${xs.length}`);
        return [{ dtype: ctx.dtype(0), shape: v }];
      }
      return [{ dtype: ctx.dtype(0), shape: xs.map(() => ctx.symbol('unpool')) }];
    }
    const spatial = xs.slice(2).map((x, i) => (typeof x === 'string' ? ctx.symbol('spatial')
      : (x - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n]));
    return [{ dtype: ctx.dtype(0), shape: [xs[0], xs[1], ...spatial] }];
  },
};

// ---------------------------------------------------------------------------------------------
// Normalization

/** BatchNormalization across opsets: 6 (is_test), 7–8 (spatial), 9+, 14+ (training_mode). */
const batchNorm: OpSpec = {
  infer: (ctx) => {
    const xs = shapeAtLeast(ctx, 0, 1, 'input X');
    ctx.attr.float('epsilon', 1e-5);
    ctx.attr.float('momentum', 0.9);
    if (ctx.opset < 7) ctx.attr.int('is_test', 0);
    if (ctx.opset >= 7 && ctx.opset < 9) ctx.attr.int('spatial', 1);
    let training = ctx.numOutputs > 1;
    if (ctx.opset >= 14) training = ctx.attr.int('training_mode', 0) !== 0;
    const c: Dim = xs.length > 1 ? xs[1] : 1;
    for (let i = 1; i <= 4; i++) {
      const s = ctx.shape(i);
      if (s.length === 1) unify(ctx, s[0], c, `input ${i} length vs channels`);
    }
    const out: TensorInfo[] = [{ dtype: ctx.dtype(0), shape: xs }];
    if (training) {
      const statsType = ctx.dtype(ctx.opset >= 15 ? 3 : 0);
      for (let i = 1; i < ctx.numOutputs; i++) out.push({ dtype: statsType, shape: [c] });
    }
    return out;
  },
};

/** LayerNormalization (17): Y like X; Mean and InvStdDev keep X[:axis] and are 1 after. */
const layerNorm: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    const axis = normAxis(ctx, ctx.attr.int('axis', -1), xs.length);
    ctx.attr.float('epsilon', 1e-5);
    const stash = ctx.attr.int('stash_type', 1);
    const stashType = dtypeFromOnnx(stash) ?? ctx.fail(`stash_type ${stash} is not a data type`);
    const stats: TensorInfo = { dtype: stashType, shape: reducedShape(xs, axis) };
    return [{ dtype: ctx.dtype(0), shape: xs }, stats, stats];
  },
};

const groupNorm: OpSpec = {
  infer: (ctx) => {
    const xs = shapeAtLeast(ctx, 0, 2, 'input X');
    const g = ctx.attr.int('num_groups');
    ctx.attr.float('epsilon', 1e-5);
    if (ctx.opset >= 21) ctx.attr.int('stash_type', 1);
    if (typeof xs[1] === 'number' && g > 0 && xs[1] % g !== 0) ctx.fail(`channels ${xs[1]} are not divisible by num_groups ${g}`);
    return [{ dtype: ctx.dtype(0), shape: xs }];
  },
};

const withAttrs = (read: (ctx: InferCtx) => void): OpSpec => ({
  infer: (ctx) => {
    read(ctx);
    return same(ctx);
  },
});

/** Softmax, LogSoftmax, Hardmax: axis defaults to 1 before opset 13 (2-D coercion), −1 after. */
const softmaxLike: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    const axis = ctx.attr.int('axis', ctx.opset < 13 ? 1 : -1);
    if (xs.length > 0 || axis !== 0) normAxis(ctx, axis, Math.max(xs.length, 1));
    // Before opset 13 the input is coerced to 2-D at `axis` (one row = every dim from axis on).
    // That is a different computation unless only the last axis is being normalized, so it is
    // part of the layer's identity (and tells the kernel which semantics to follow).
    const a = axis < 0 ? axis + xs.length : axis;
    if (ctx.opset < 13 && a < xs.length - 1) ctx.setAttr('coerce_2d', 1);
    return [{ dtype: ctx.dtype(0), shape: xs }];
  },
};

// ---------------------------------------------------------------------------------------------
// Matrix products

/**
 * numpy.matmul shapes: a 1-D A is [1, K] and a 1-D B is [K, 1] with the added dim removed after;
 * batch dims broadcast.
 */
function matmulShape(ctx: InferCtx, a: Dim[], b: Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) ctx.fail('MatMul inputs must have rank ≥ 1 (got a scalar)');
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const ka = a2[a2.length - 1];
  const kb = b2[b2.length - 2];
  if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) {
    ctx.fail(`inner dimensions differ: A [${a.join(',')}] × B [${b.join(',')}] (${ka} != ${kb})`);
  }
  const batch = broadcastShapes(ctx, [a2.slice(0, -2), b2.slice(0, -2)]);
  const out: Dim[] = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  return out;
}

const matmul = (dtype: (ctx: InferCtx) => DType, a = 0, b = 1): OpSpec => ({
  infer: (ctx) => [{ dtype: dtype(ctx), shape: matmulShape(ctx, ctx.shape(a), ctx.shape(b)) }],
});

const gemm: OpSpec = {
  infer: (ctx) => {
    const as = ctx.shape(0);
    const bs = ctx.shape(1);
    if (as.length !== 2 || bs.length !== 2) ctx.fail(`Gemm needs 2-D A and B, got [${as.join(',')}] and [${bs.join(',')}]`);
    ctx.attr.float('alpha', 1);
    ctx.attr.float('beta', 1);
    const ta = ctx.attr.int('transA', 0) !== 0;
    const tb = ctx.attr.int('transB', 0) !== 0;
    if (ctx.opset < 7) ctx.attr.int('broadcast', 0);
    const [m, ka] = ta ? [as[1], as[0]] : [as[0], as[1]];
    const [kb, n] = tb ? [bs[1], bs[0]] : [bs[0], bs[1]];
    if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) {
      ctx.fail(`inner dimensions differ: A [${as.join(',')}]${ta ? 'ᵀ' : ''} × B [${bs.join(',')}]${tb ? 'ᵀ' : ''} (${ka} != ${kb})`);
    }
    if (ctx.has(2)) {
      const cs = ctx.shape(2);
      // C broadcasts unidirectionally to [M, N].
      const target = [m, n];
      if (cs.length > 2) ctx.fail(`C [${cs.join(',')}] has rank > 2`);
      cs.forEach((d, i) => {
        const t = target[target.length - cs.length + i];
        if (typeof d === 'number' && typeof t === 'number' && d !== 1 && d !== t) ctx.fail(`C [${cs.join(',')}] does not broadcast to [${m},${n}]`);
      });
    }
    return [{ dtype: ctx.dtype(0), shape: [m, n] }];
  },
};

/** One Einsum operand: its labels, with '.' standing for the ellipsis's dims (at most one). */
function parseTerm(ctx: InferCtx, term: string): string[] {
  const labels: string[] = [];
  let ell = false;
  for (let i = 0; i < term.length; i++) {
    if (term.startsWith('...', i)) {
      if (ell) ctx.fail(`Einsum term '${term}' has more than one ellipsis`);
      ell = true;
      labels.push('.');
      i += 2;
    } else if (/[A-Za-z]/.test(term[i])) labels.push(term[i]);
    else ctx.fail(`Einsum term '${term}' has an invalid character '${term[i]}'`);
  }
  return labels;
}

/**
 * Einsum output shape. Each letter names one dim size across operands (size-1 dims broadcast);
 * ellipsis dims broadcast numpy-style. Without '->', the output is the ellipsis dims followed by
 * the letters used exactly once, in alphabetical order (numpy's implicit mode, as ONNX specifies).
 */
function einsumShape(ctx: InferCtx, equation: string, shapes: Dim[][]): Dim[] {
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow >= 0 ? eq.slice(0, arrow) : eq;
  const terms = lhs.split(',').map((t) => parseTerm(ctx, t));
  if (terms.length !== shapes.length) ctx.fail(`equation '${equation}' has ${terms.length} operands, but the node has ${shapes.length} inputs`);
  const size = new Map<string, Dim>();
  const count = new Map<string, number>();
  const ellShapes: Dim[][] = [];
  terms.forEach((labels, k) => {
    const s = shapes[k];
    const hasEll = labels.includes('.');
    const named = labels.length - (hasEll ? 1 : 0);
    if (hasEll ? s.length < named : s.length !== named) ctx.fail(`operand ${k} has rank ${s.length}, but its term names ${named} dims${hasEll ? ' (plus an ellipsis)' : ''}`);
    const ellRank = s.length - named;
    let j = 0;
    for (const l of labels) {
      if (l === '.') {
        ellShapes.push(s.slice(j, j + ellRank));
        j += ellRank;
        continue;
      }
      const d = s[j++];
      count.set(l, (count.get(l) ?? 0) + 1);
      const prev = size.get(l);
      if (prev === undefined || prev === 1) size.set(l, d);
      else if (typeof prev === 'number' && typeof d === 'number' && d !== 1 && d !== prev) {
        ctx.fail(`Einsum label '${l}' has sizes ${prev} and ${d}`);
      } else if (typeof prev === 'string' && typeof d === 'number' && d !== 1) size.set(l, d);
    }
  });
  const ellDims = broadcastShapes(ctx, ellShapes);
  let out: string[];
  if (arrow >= 0) {
    out = parseTerm(ctx, eq.slice(arrow + 2));
    for (const l of out) if (l !== '.' && !size.has(l)) ctx.fail(`Einsum output label '${l}' does not occur in any input`);
    if (new Set(out).size !== out.length) ctx.fail(`Einsum output '${eq.slice(arrow + 2)}' repeats a label`);
  } else {
    out = ['.', ...[...count].filter(([, c]) => c === 1).map(([l]) => l).sort()];
  }
  const shape: Dim[] = [];
  for (const l of out) {
    if (l === '.') shape.push(...ellDims);
    else shape.push(size.get(l)!);
  }
  return shape;
}

const einsum: OpSpec = {
  infer: (ctx) => {
    const eq = ctx.attr.string('equation');
    const shapes = ctx.inputs.map((_, i) => ctx.shape(i));
    return [{ dtype: ctx.dtype(0), shape: einsumShape(ctx, eq, shapes) }];
  },
};

// ---------------------------------------------------------------------------------------------
// Recurrent layers

interface RnnKind {
  /** Gate count (rows of W per hidden unit): RNN 1, GRU 3, LSTM 4. */
  gates: number;
  activations: string[];
  outputs: number;
  extra?: (ctx: InferCtx) => void;
}

/**
 * RNN/GRU/LSTM. X is [seq, batch, input] (layout 0) or [batch, seq, input] (layout 1, opset 14);
 * Y is [seq, dirs, batch, hidden] or [batch, seq, dirs, hidden]; Y_h and Y_c are [dirs, batch,
 * hidden] or [batch, dirs, hidden].
 */
function rnn(k: RnnKind): OpSpec {
  return {
    infer: (ctx) => {
      const xs = ctx.shape(0);
      const ws = ctx.shape(1);
      const rs = ctx.shape(2);
      if (xs.length !== 3) ctx.fail(`X must be 3-D, got [${xs.join(',')}]`);
      if (ws.length !== 3 || rs.length !== 3) ctx.fail(`W and R must be 3-D, got [${ws.join(',')}] and [${rs.join(',')}]`);
      const direction = ctx.attr.string('direction', 'forward');
      if (!['forward', 'reverse', 'bidirectional'].includes(direction)) ctx.fail(`direction '${direction}' is not forward, reverse or bidirectional`);
      const dirs = direction === 'bidirectional' ? 2 : 1;
      unify(ctx, ws[0], dirs, `W's first dim vs num_directions (${direction})`);
      let hidden: Dim;
      if (ctx.attr.has('hidden_size')) hidden = ctx.attr.int('hidden_size');
      else {
        hidden = typeof rs[2] === 'number' ? rs[2] : typeof ws[1] === 'number' ? ws[1] / k.gates : ctx.fail('hidden_size is absent and W/R do not tell it');
        if (typeof hidden === 'number') ctx.setAttr('hidden_size', hidden);
      }
      if (typeof hidden === 'number') {
        unify(ctx, ws[1], k.gates * hidden, `W's second dim vs ${k.gates} × hidden_size`);
        unify(ctx, rs[2], hidden, 'R\'s last dim vs hidden_size');
      }
      const layout = ctx.opset >= 14 ? ctx.attr.int('layout', 0) : 0;
      ctx.attr.strings('activations', Array.from({ length: dirs }, () => k.activations).flat());
      if (ctx.attr.has('activation_alpha')) ctx.attr.floats('activation_alpha');
      if (ctx.attr.has('activation_beta')) ctx.attr.floats('activation_beta');
      if (ctx.attr.has('clip')) ctx.attr.float('clip');
      if (ctx.opset < 7) ctx.attr.int('output_sequence', 0);
      k.extra?.(ctx);
      const [seq, batch] = layout === 0 ? [xs[0], xs[1]] : [xs[1], xs[0]];
      unify(ctx, ws[2], xs[2], 'W\'s input size vs X\'s');
      const dt = ctx.dtype(0);
      const y: Dim[] = layout === 0 ? [seq, dirs, batch, hidden] : [batch, seq, dirs, hidden];
      const yh: Dim[] = layout === 0 ? [dirs, batch, hidden] : [batch, dirs, hidden];
      const out: TensorInfo[] = [{ dtype: dt, shape: y }, { dtype: dt, shape: yh }];
      if (k.outputs === 3) out.push({ dtype: dt, shape: yh });
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Quantization

const quantizeLinear: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    if (ctx.opset >= 13) ctx.attr.int('axis', 1);
    if (ctx.opset >= 19) ctx.attr.int('saturate', 1);
    let dtype: DType = 'uint8';
    if (ctx.opset >= 21) {
      ctx.attr.int('block_size', 0);
      const code = ctx.attr.int('output_dtype', 0);
      if (code !== 0) dtype = dtypeFromOnnx(code) ?? ctx.fail(`output_dtype ${code} is not a data type`);
    }
    if (ctx.has(2)) {
      const zt = ctx.dtype(2);
      if (ctx.opset >= 21 && ctx.attr.int('output_dtype', 0) !== 0 && zt !== dtype) ctx.fail(`output_dtype ${dtype} differs from y_zero_point's ${zt}`);
      dtype = zt;
    }
    return [{ dtype, shape: xs }];
  },
};

const dequantizeLinear: OpSpec = {
  infer: (ctx) => {
    const xs = ctx.shape(0);
    if (ctx.opset >= 13) ctx.attr.int('axis', 1);
    if (ctx.opset >= 21) ctx.attr.int('block_size', 0);
    // Before opset 19 the scale (and so the output) is always float32.
    const dtype: DType = ctx.opset >= 19 ? ctx.dtype(1) : 'float32';
    return [{ dtype, shape: xs }];
  },
};

const dynamicQuantizeLinear: OpSpec = {
  infer: (ctx) => [
    { dtype: 'uint8', shape: ctx.shape(0) },
    { dtype: 'float32', shape: [] },
    { dtype: 'uint8', shape: [] },
  ],
};

// ---------------------------------------------------------------------------------------------
// Losses (training graphs, and the expanded forms of other ops)

/**
 * The loss for scores [N, C, d…] and targets [N, d…]: [N, d…] for reduction 'none', a scalar for
 * 'mean' and 'sum'. ignore_index has no default and is recorded only when present.
 */
function lossShape(ctx: InferCtx): Dim[] {
  const xs = shapeAtLeast(ctx, 0, 2, 'input');
  const ts = ctx.shape(1);
  const reduction = ctx.attr.string('reduction', 'mean');
  if (!['none', 'mean', 'sum'].includes(reduction)) ctx.fail(`reduction '${reduction}' is not none, mean or sum`);
  if (ctx.attr.has('ignore_index')) ctx.attr.int('ignore_index');
  if (ts.length !== xs.length - 1) ctx.fail(`target has rank ${ts.length}, expected ${xs.length - 1} for input [${xs.join(',')}]`);
  unify(ctx, ts[0], xs[0], 'target batch vs input batch');
  xs.slice(2).forEach((d, i) => unify(ctx, ts[1 + i], d, `target dim ${1 + i} vs input dim ${2 + i}`));
  if (ctx.has(2)) {
    const ws = ctx.shape(2);
    if (ws.length !== 1) ctx.fail(`weight must be 1-D [C], got [${ws.join(',')}]`);
    unify(ctx, ws[0], xs[1], 'weight length vs classes');
  }
  return reduction === 'none' ? [xs[0], ...xs.slice(2)] : [];
}

const nllLoss: OpSpec = {
  infer: (ctx) => [{ dtype: ctx.dtype(0), shape: lossShape(ctx) }],
};

const softmaxCrossEntropyLoss: OpSpec = {
  infer: (ctx) => [{ dtype: ctx.dtype(0), shape: lossShape(ctx) }, { dtype: ctx.dtype(0), shape: ctx.shape(0) }],
};

const qlinearOut = (zp: number, fallback: number) => (ctx: InferCtx): DType => ctx.dtype(ctx.has(zp) ? zp : fallback);

export const nnOps: Record<string, OpSpec> = {
  Conv: convLike({ x: 0, w: 1, bias: 2, dtype: (ctx) => ctx.dtype(0) }),
  ConvInteger: convLike({ x: 0, w: 1, dtype: () => 'int32' }),
  QLinearConv: convLike({ x: 0, w: 3, bias: 8, dtype: qlinearOut(7, 0) }),
  DeformConv: deformConv,
  'mmcv:MMCVModulatedDeformConv2d': mmcvModulatedDeformConv,
  'mmdeploy:MMCVModulatedDeformConv2d': mmcvModulatedDeformConv,
  ConvTranspose: convTranspose,

  MaxPool: pool({
    ceilFrom: 10, dilationsFrom: 10, indices: true,
    extra: (ctx) => { if (ctx.opset >= 8) ctx.attr.int('storage_order', 0); },
  }),
  AveragePool: pool({
    ceilFrom: 10, dilationsFrom: 19,
    extra: (ctx) => { if (ctx.opset >= 7) ctx.attr.int('count_include_pad', 0); },
  }),
  LpPool: pool({ ceilFrom: 18, dilationsFrom: 18, extra: lpP }),
  GlobalAveragePool: globalPool(),
  GlobalMaxPool: globalPool(),
  GlobalLpPool: globalPool(lpP),
  MaxRoiPool: maxRoiPool,
  RoiAlign: roiAlign,
  MaxUnpool: maxUnpool,

  BatchNormalization: batchNorm,
  InstanceNormalization: withAttrs((ctx) => { ctx.attr.float('epsilon', 1e-5); }),
  LayerNormalization: layerNorm,
  GroupNormalization: groupNorm,
  LpNormalization: withAttrs((ctx) => {
    normAxis(ctx, ctx.attr.int('axis', -1), Math.max(1, ctx.shape(0).length));
    ctx.attr.int('p', 2);
  }),
  MeanVarianceNormalization: withAttrs((ctx) => { ctx.attr.ints('axes', [0, 2, 3]); }),
  LRN: withAttrs((ctx) => {
    ctx.attr.int('size');
    ctx.attr.float('alpha', 1e-4);
    ctx.attr.float('beta', 0.75);
    ctx.attr.float('bias', 1);
  }),
  Softmax: softmaxLike,
  LogSoftmax: softmaxLike,
  Hardmax: softmaxLike,

  MatMul: matmul((ctx) => ctx.dtype(0)),
  MatMulInteger: matmul(() => 'int32'),
  QLinearMatMul: matmul(qlinearOut(7, 0), 0, 3),
  Gemm: gemm,
  Einsum: einsum,

  RNN: rnn({ gates: 1, activations: ['Tanh'], outputs: 2 }),
  GRU: rnn({
    gates: 3, activations: ['Sigmoid', 'Tanh'], outputs: 2,
    extra: (ctx) => { if (ctx.opset >= 3) ctx.attr.int('linear_before_reset', 0); },
  }),
  LSTM: rnn({
    gates: 4, activations: ['Sigmoid', 'Tanh', 'Tanh'], outputs: 3,
    extra: (ctx) => { ctx.attr.int('input_forget', 0); },
  }),

  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  DynamicQuantizeLinear: dynamicQuantizeLinear,

  NegativeLogLikelihoodLoss: nllLoss,
  SoftmaxCrossEntropyLoss: softmaxCrossEntropyLoss,
};
