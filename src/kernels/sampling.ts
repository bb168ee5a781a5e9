/**
 * Sampling at computed positions: GridSample (2-D) and RoiAlign. One output element per
 * invocation (`naive`); arithmetic in f32.
 *
 * GridSample (ONNX semantics, as its reference implementation): the grid's normalized (x, y) map
 * to pixel coordinates, x = (g + 1)/2·(W − 1) with align_corners, else ((g + 1)·W − 1)/2; nearest
 * rounds half to even; a coordinate outside [−0.5, W − 0.5] ([0, W − 1] with align_corners) is
 * first clamped (border) or reflected (reflection) as a whole; then every pixel read applies the
 * padding mode to its integer position (zeros: 0 outside; border: clamp; reflection: reflect and
 * truncate). Bilinear weights the 2×2 neighbourhood, bicubic the 4×4 one with Keys' cubic
 * convolution (a = −0.75).
 *
 * AffineGrid: the grid of GridSample for an affine transform: each output point is θ·[x, y, (z,) 1]
 * with (x, y, z) the normalized coordinates of its pixel centre (align_corners: of its corner
 * grid, −1…1 inclusive); 2-D (θ [N, 2, 3]) and 3-D (θ [N, 3, 4]).
 *
 * MaxRoiPool (Fast R-CNN's RoI pooling, as Caffe and onnxruntime compute it): ROI corners rounded
 * (half away from zero) after spatial_scale, at least 1×1, cut into pooled_shape bins with
 * floor/ceil edges clipped to the image; the maximum of each bin (0 for an empty bin).
 *
 * RoiAlign (Mask R-CNN's RoIAlign, as onnxruntime computes it): the ROI in input pixels is
 * box·spatial_scale − 0.5 (half_pixel; 0 offset and a 1-pixel minimum size for the legacy
 * output_half_pixel), cut into output_height × output_width bins, each sampled on a regular grid
 * (sampling_ratio per side, or ⌈bin size⌉ when 0) with bilinear interpolation (samples beyond one
 * pixel outside the image count as 0); avg averages the samples, max takes the largest of each
 * sample's weighted corner values (onnxruntime's definition).
 */
import {
  supported, unsupported,
  type HostTensor, type LayerCase, type Support, type Kernel,
} from './types.js';
import { elements, lit } from './wgsl.js';
import { attrNum, attrStr, gt, isFloat, values } from './movement.js';
import { simpleKernel, type Simple } from './indexing.js';
import { interpolationFlops } from './resize.js';

// ---------------------------------------------------------------------------------------------
// GridSample

type GsMode = 'linear' | 'nearest' | 'cubic';

function gsMode(c: LayerCase): GsMode | undefined {
  const m = attrStr(c, 'mode', 'linear');
  if (m === 'bilinear' || m === 'linear') return 'linear';
  if (m === 'bicubic' || m === 'cubic') return 'cubic';
  if (m === 'nearest') return 'nearest';
  return undefined;
}

interface GsGeo { N: number; C: number; H: number; W: number; Ho: number; Wo: number; align: boolean; mode: GsMode; pad: string; lo: [number, number]; hi: [number, number] }

function gsGeo(c: LayerCase): GsGeo {
  const [N, C, H, W] = c.layer.inputs[0]!.shape;
  const [, Ho, Wo] = c.layer.inputs[1]!.shape;
  const align = attrNum(c, 'align_corners', 0) !== 0;
  return {
    N, C, H, W, Ho, Wo, align, mode: gsMode(c)!, pad: attrStr(c, 'padding_mode', 'zeros'),
    lo: align ? [0, 0] : [-0.5, -0.5], hi: align ? [W - 1, H - 1] : [W - 0.5, H - 0.5],
  };
}

/** Reflection by the nearer border until inside [lo, hi]. */
function reflectHost(x: number, lo: number, hi: number): number {
  const rng = hi - lo;
  if (rng <= 0) return lo;
  if (x < lo) {
    const dx = lo - x, n = Math.trunc(dx / rng), r = dx - n * rng;
    return n % 2 === 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const dx = x - hi, n = Math.trunc(dx / rng), r = dx - n * rng;
    return n % 2 === 0 ? hi - r : lo + r;
  }
  return x;
}

function cubicCoeffs(t: number): number[] {
  const a = -0.75;
  const x = Math.abs(t);
  return [
    ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a,
    ((a + 2) * x - (a + 3)) * x * x + 1,
    ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1,
    ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a,
  ];
}

function gsCheck(c: LayerCase): Support {
  const [x, g] = c.layer.inputs;
  if (!x || !g || !isFloat(x.dtype) || gt(g) !== gt(x)) return unsupported('X and grid must be float32/float16 of one type');
  if (x.shape.length !== 4) return unsupported(`rank ${x.shape.length} input: only 2-D sampling (rank 4)`);
  if (!gsMode(c)) return unsupported(`mode ${attrStr(c, 'mode', '')}`);
  const pad = attrStr(c, 'padding_mode', 'zeros');
  if (!['zeros', 'border', 'reflection'].includes(pad)) return unsupported(`padding_mode ${pad}`);
  return supported;
}

function gsBody(c: LayerCase): string {
  const g = gsGeo(c);
  const t = gt(c.layer.outputs[0]);
  const f = (v: number) => lit(v, 'f32');
  const denorm = (v: string, len: number) => (g.align ? `(${v} + 1.0f) / 2.0f * ${f(len - 1)}` : `((${v} + 1.0f) * ${f(len)} - 1.0f) / 2.0f`);
  const fixOut = g.pad === 'border'
    ? `    px = clamp(px, 0.0f, ${f(g.W - 1)});\n    py = clamp(py, 0.0f, ${f(g.H - 1)});`
    : g.pad === 'reflection'
      ? `    px = reflect_c(px, ${f(g.lo[0])}, ${f(g.hi[0])});\n    py = reflect_c(py, ${f(g.lo[1])}, ${f(g.hi[1])});`
      : '';
  let sample: string;
  if (g.mode === 'nearest') sample = '  let v = pix(base, i32(py), i32(px));';
  else if (g.mode === 'linear') {
    sample = `  let x1 = i32(floor(px));
  let y1 = i32(floor(py));
  let dx1 = px - f32(x1);
  let dy1 = py - f32(y1);
  let v = (1.0f - dy1) * ((1.0f - dx1) * pix(base, y1, x1) + dx1 * pix(base, y1, x1 + 1i))
        + dy1 * ((1.0f - dx1) * pix(base, y1 + 1i, x1) + dx1 * pix(base, y1 + 1i, x1 + 1i));`;
  } else {
    sample = `  let x0 = i32(floor(px)) - 1i;
  let y0 = i32(floor(py)) - 1i;
  let cx = cubic(px - f32(x0) - 1.0f);
  let cy = cubic(py - f32(y0) - 1.0f);
  var v = 0.0f;
  for (var h = 0i; h < 4i; h++) {
    var row = 0.0f;
    for (var w = 0i; w < 4i; w++) { row += cx[w] * pix(base, y0 + h, x0 + w); }
    v += cy[h] * row;
  }`;
  }
  return `  let ox = gid % ${g.Wo}u;
  let oy = (gid / ${g.Wo}u) % ${g.Ho}u;
  let ch = (gid / ${g.Wo * g.Ho}u) % ${g.C}u;
  let n = gid / ${g.Wo * g.Ho * g.C}u;
  let gp = ((n * ${g.Ho}u + oy) * ${g.Wo}u + ox) * 2u;
  var px = ${denorm('f32(in1[gp])', g.W)};
  var py = ${denorm('f32(in1[gp + 1u])', g.H)};
${g.mode === 'nearest' ? '  px = round(px);\n  py = round(py);\n' : ''}  if (px < ${f(g.lo[0])} || px > ${f(g.hi[0])} || py < ${f(g.lo[1])} || py > ${f(g.hi[1])}) {
${fixOut}
  }
  let base = (n * ${g.C}u + ch) * ${g.H * g.W}u;
${sample}
  y[gid] = ${t}(v);`;
}

/** Module-scope helpers of the GridSample pass: reflection, cubic coefficients, padded pixel reads. */
function gsHelpers(c: LayerCase): string {
  const g = gsGeo(c);
  const f = (v: number) => lit(v, 'f32');
  let pixel: string;
  if (g.pad === 'zeros') {
    pixel = `  if (c < 0i || c >= ${g.W}i || r < 0i || r >= ${g.H}i) { return 0.0f; }
  return f32(in0[base + u32(r) * ${g.W}u + u32(c)]);`;
  } else if (g.pad === 'border') {
    pixel = `  return f32(in0[base + u32(clamp(r, 0i, ${g.H - 1}i)) * ${g.W}u + u32(clamp(c, 0i, ${g.W - 1}i))]);`;
  } else {
    pixel = `  let cc = clamp(i32(reflect_c(f32(c), ${f(g.lo[0])}, ${f(g.hi[0])})), 0i, ${g.W - 1}i);
  let rr = clamp(i32(reflect_c(f32(r), ${f(g.lo[1])}, ${f(g.hi[1])})), 0i, ${g.H - 1}i);
  return f32(in0[base + u32(rr) * ${g.W}u + u32(cc)]);`;
  }
  return `
fn reflect_c(x: f32, lo: f32, hi: f32) -> f32 {
  let rng = hi - lo;
  if (rng <= 0.0f) { return lo; }
  if (x < lo) {
    let dx = lo - x;
    let k = trunc(dx / rng);
    let r = dx - k * rng;
    return select(hi - r, lo + r, (u32(k) % 2u) == 0u);
  }
  if (x > hi) {
    let dx = x - hi;
    let k = trunc(dx / rng);
    let r = dx - k * rng;
    return select(lo + r, hi - r, (u32(k) % 2u) == 0u);
  }
  return x;
}

fn cubic(t: f32) -> vec4<f32> {
  let a = -0.75f;
  let x = abs(t);
  return vec4<f32>(((a * (x + 1.0f) - 5.0f * a) * (x + 1.0f) + 8.0f * a) * (x + 1.0f) - 4.0f * a,
                   ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f,
                   ((a + 2.0f) * (1.0f - x) - (a + 3.0f)) * (1.0f - x) * (1.0f - x) + 1.0f,
                   ((a * (2.0f - x) - 5.0f * a) * (2.0f - x) + 8.0f * a) * (2.0f - x) - 4.0f * a);
}

fn pix(base: u32, r: i32, c: i32) -> f32 {
${pixel}
}`;
}

function roundHalfEven(v: number): number {
  const fl = Math.floor(v);
  const d = v - fl;
  if (d !== 0.5) return Math.round(v);
  return fl % 2 === 0 ? fl : fl + 1;
}

function gsReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = gsGeo(c);
  const X = values(inputs[0]!), G = values(inputs[1]!);
  const o = c.layer.outputs[0];
  const Y = new Float32Array(elements(o));
  const denorm = (v: number, len: number) => (g.align ? ((v + 1) / 2) * (len - 1) : ((v + 1) * len - 1) / 2);
  for (let i = 0; i < Y.length; i++) {
    const ox = i % g.Wo, oy = Math.floor(i / g.Wo) % g.Ho, ch = Math.floor(i / (g.Wo * g.Ho)) % g.C, n = Math.floor(i / (g.Wo * g.Ho * g.C));
    const gp = ((n * g.Ho + oy) * g.Wo + ox) * 2;
    let x = denorm(G[gp], g.W), y = denorm(G[gp + 1], g.H);
    if (g.mode === 'nearest') { x = roundHalfEven(x); y = roundHalfEven(y); }
    if (x < g.lo[0] || x > g.hi[0] || y < g.lo[1] || y > g.hi[1]) {
      if (g.pad === 'border') { x = Math.min(Math.max(x, 0), g.W - 1); y = Math.min(Math.max(y, 0), g.H - 1); }
      if (g.pad === 'reflection') { x = reflectHost(x, g.lo[0], g.hi[0]); y = reflectHost(y, g.lo[1], g.hi[1]); }
    }
    const base = (n * g.C + ch) * g.H * g.W;
    const pix = (r: number, cc: number): number => {
      if (g.pad === 'zeros') return cc < 0 || cc >= g.W || r < 0 || r >= g.H ? 0 : X[base + r * g.W + cc];
      if (g.pad === 'border') return X[base + Math.min(Math.max(r, 0), g.H - 1) * g.W + Math.min(Math.max(cc, 0), g.W - 1)];
      const c2 = Math.min(Math.max(Math.trunc(reflectHost(cc, g.lo[0], g.hi[0])), 0), g.W - 1);
      const r2 = Math.min(Math.max(Math.trunc(reflectHost(r, g.lo[1], g.hi[1])), 0), g.H - 1);
      return X[base + r2 * g.W + c2];
    };
    if (g.mode === 'nearest') Y[i] = pix(Math.trunc(y), Math.trunc(x));
    else if (g.mode === 'linear') {
      const x1 = Math.floor(x), y1 = Math.floor(y), dx = x - x1, dy = y - y1;
      Y[i] = (1 - dy) * ((1 - dx) * pix(y1, x1) + dx * pix(y1, x1 + 1)) + dy * ((1 - dx) * pix(y1 + 1, x1) + dx * pix(y1 + 1, x1 + 1));
    } else {
      const x0 = Math.floor(x) - 1, y0 = Math.floor(y) - 1;
      const cx = cubicCoeffs(x - x0 - 1), cy = cubicCoeffs(y - y0 - 1);
      let v = 0;
      for (let h = 0; h < 4; h++) {
        let row = 0;
        for (let w = 0; w < 4; w++) row += cx[w] * pix(y0 + h, x0 + w);
        v += cy[h] * row;
      }
      Y[i] = v;
    }
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data: Y }];
}

const gridSample: Simple = {
  name: 'grid-sample',
  ops: ['GridSample'],
  variant: 'naive',
  description: 'one output element per invocation',
  cost: interpolationFlops, // as Resize's (resize.ts); opset 16's 'bicubic' counts as linear (only 'cubic' has 4^d taps)
  bound: () => [0, 1],
  check: gsCheck,
  body: gsBody,
  helpers: gsHelpers,
  reference: gsReference,
};

// ---------------------------------------------------------------------------------------------
// RoiAlign

interface RaGeo { C: number; H: number; W: number; oh: number; ow: number; ratio: number; scale: number; half: boolean; max: boolean }

function raGeo(c: LayerCase): RaGeo {
  const [, C, H, W] = c.layer.inputs[0]!.shape;
  const [, , oh, ow] = c.layer.outputs[0].shape;
  return {
    C, H, W, oh, ow, ratio: attrNum(c, 'sampling_ratio', 0), scale: attrNum(c, 'spatial_scale', 1),
    half: attrStr(c, 'coordinate_transformation_mode', 'half_pixel') === 'half_pixel', max: attrStr(c, 'mode', 'avg') === 'max',
  };
}

function raCheck(c: LayerCase): Support {
  const [x, rois, bi] = c.layer.inputs;
  if (!x || !rois || !bi) return unsupported('X, rois or batch_indices missing');
  if (!isFloat(x.dtype) || gt(rois) !== gt(x)) return unsupported('X and rois must be float32/float16 of one type');
  if (bi.dtype !== 'int64' && bi.dtype !== 'int32') return unsupported(`${bi.dtype} batch_indices`);
  if (x.shape.length !== 4) return unsupported('X must be [N, C, H, W]');
  const m = attrStr(c, 'mode', 'avg');
  if (m !== 'avg' && m !== 'max') return unsupported(`mode ${m}`);
  const ct = attrStr(c, 'coordinate_transformation_mode', 'half_pixel');
  if (ct !== 'half_pixel' && ct !== 'output_half_pixel') return unsupported(`coordinate_transformation_mode ${ct}`);
  if (attrNum(c, 'sampling_ratio', 0) < 0) return unsupported('negative sampling_ratio');
  return supported;
}

function raBody(c: LayerCase): string {
  const g = raGeo(c);
  const t = gt(c.layer.outputs[0]);
  const f = (v: number) => lit(v, 'f32');
  const off = g.half ? 0.5 : 0;
  const grid = (size: string, out: number) => (g.ratio > 0 ? `${g.ratio}u` : `u32(ceil(${size} / ${f(out)}))`);
  return `  let pw = gid % ${g.ow}u;
  let ph = (gid / ${g.ow}u) % ${g.oh}u;
  let ch = (gid / ${g.ow * g.oh}u) % ${g.C}u;
  let ri = gid / ${g.ow * g.oh * g.C}u;
  let n = u32(max(i32(in2[ri]), 0i));
  let sw = f32(in1[ri * 4u]) * ${f(g.scale)} - ${f(off)};
  let sh = f32(in1[ri * 4u + 1u]) * ${f(g.scale)} - ${f(off)};
  var rw = f32(in1[ri * 4u + 2u]) * ${f(g.scale)} - ${f(off)} - sw;
  var rh = f32(in1[ri * 4u + 3u]) * ${f(g.scale)} - ${f(off)} - sh;
${g.half ? '' : '  rw = max(rw, 1.0f);\n  rh = max(rh, 1.0f);\n'}  let bh = rh / ${f(g.oh)};
  let bw = rw / ${f(g.ow)};
  let gh = ${grid('rh', g.oh)};
  let gw = ${grid('rw', g.ow)};
  let base = (n * ${g.C}u + ch) * ${g.H * g.W}u;
  var acc = 0.0f;
  var first = true;
  for (var iy = 0u; iy < gh; iy++) {
    let yy = sh + f32(ph) * bh + (f32(iy) + 0.5f) * bh / f32(gh);
    for (var ix = 0u; ix < gw; ix++) {
      let xx = sw + f32(pw) * bw + (f32(ix) + 0.5f) * bw / f32(gw);
      var s = 0.0f;
      if (!(yy < -1.0f || yy > ${f(g.H)} || xx < -1.0f || xx > ${f(g.W)})) {
        var fy = max(yy, 0.0f);
        var fx = max(xx, 0.0f);
        var yl = u32(fy);
        var xl = u32(fx);
        var yh = yl + 1u;
        var xh = xl + 1u;
        if (yl >= ${g.H - 1}u) { yl = ${g.H - 1}u; yh = yl; fy = f32(yl); }
        if (xl >= ${g.W - 1}u) { xl = ${g.W - 1}u; xh = xl; fx = f32(xl); }
        let ly = fy - f32(yl);
        let lx = fx - f32(xl);
        let p1 = (1.0f - ly) * (1.0f - lx) * f32(in0[base + yl * ${g.W}u + xl]);
        let p2 = (1.0f - ly) * lx * f32(in0[base + yl * ${g.W}u + xh]);
        let p3 = ly * (1.0f - lx) * f32(in0[base + yh * ${g.W}u + xl]);
        let p4 = ly * lx * f32(in0[base + yh * ${g.W}u + xh]);
        s = ${g.max ? 'max(max(p1, p2), max(p3, p4))' : 'p1 + p2 + p3 + p4'};
      }
${g.max ? '      acc = select(max(acc, s), s, first);\n      first = false;' : '      acc += s;'}
    }
  }
${g.max ? '' : '  acc = acc / f32(max(gh * gw, 1u));\n'}  y[gid] = ${t}(acc);`;
}

function raReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const g = raGeo(c);
  const X = values(inputs[0]!), R = values(inputs[1]!), B = values(inputs[2]!);
  const o = c.layer.outputs[0];
  const Y = new Float32Array(elements(o));
  const off = g.half ? 0.5 : 0;
  for (let i = 0; i < Y.length; i++) {
    const pw = i % g.ow, ph = Math.floor(i / g.ow) % g.oh, ch = Math.floor(i / (g.ow * g.oh)) % g.C, ri = Math.floor(i / (g.ow * g.oh * g.C));
    const n = Math.max(0, B[ri]);
    const sw = R[ri * 4] * g.scale - off, sh = R[ri * 4 + 1] * g.scale - off;
    let rw = R[ri * 4 + 2] * g.scale - off - sw, rh = R[ri * 4 + 3] * g.scale - off - sh;
    if (!g.half) { rw = Math.max(rw, 1); rh = Math.max(rh, 1); }
    const bh = rh / g.oh, bw = rw / g.ow;
    const gh = g.ratio > 0 ? g.ratio : Math.ceil(rh / g.oh), gw = g.ratio > 0 ? g.ratio : Math.ceil(rw / g.ow);
    const base = (n * g.C + ch) * g.H * g.W;
    let acc = 0, first = true;
    for (let iy = 0; iy < gh; iy++) {
      const yy = sh + ph * bh + ((iy + 0.5) * bh) / gh;
      for (let ix = 0; ix < gw; ix++) {
        const xx = sw + pw * bw + ((ix + 0.5) * bw) / gw;
        let s = 0;
        if (!(yy < -1 || yy > g.H || xx < -1 || xx > g.W)) {
          let y = Math.max(yy, 0), x = Math.max(xx, 0);
          let yl = Math.trunc(y), xl = Math.trunc(x), yh = yl + 1, xh = xl + 1;
          if (yl >= g.H - 1) { yl = yh = g.H - 1; y = yl; }
          if (xl >= g.W - 1) { xl = xh = g.W - 1; x = xl; }
          const ly = y - yl, lx = x - xl;
          const p = [(1 - ly) * (1 - lx) * X[base + yl * g.W + xl], (1 - ly) * lx * X[base + yl * g.W + xh], ly * (1 - lx) * X[base + yh * g.W + xl], ly * lx * X[base + yh * g.W + xh]];
          s = g.max ? Math.max(...p) : p[0] + p[1] + p[2] + p[3];
        }
        if (g.max) { acc = first ? s : Math.max(acc, s); first = false; } else acc += s;
      }
    }
    Y[i] = g.max ? acc : acc / Math.max(gh * gw, 1);
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data: Y }];
}

const roiAlign: Simple = {
  name: 'roi-align',
  ops: ['RoiAlign'],
  variant: 'naive',
  description: 'one output element per invocation, its bin\'s samples as a loop',
  bound: () => [0, 1, 2],
  check: raCheck,
  body: raBody,
  reference: raReference,
};

// ---------------------------------------------------------------------------------------------
// AffineGrid

function agCheck(c: LayerCase): Support {
  const th = c.layer.inputs[0];
  const o = c.layer.outputs[0].shape;
  if (!th || !isFloat(th.dtype) || gt(th) !== gt(c.layer.outputs[0])) return unsupported('theta must be float32/float16 like the grid');
  const r = o.length - 2;
  if ((r !== 2 && r !== 3) || o[o.length - 1] !== r) return unsupported('only 2-D and 3-D grids');
  if (th.shape.length !== 3 || th.shape[0] !== o[0] || th.shape[1] !== r || th.shape[2] !== r + 1) return unsupported(`theta must be [N, ${r}, ${r + 1}]`);
  return supported;
}

function agBody(c: LayerCase): string {
  const o = c.layer.outputs[0].shape;
  const r = o.length - 2;
  const sp = o.slice(1, -1);
  const t = gt(c.layer.outputs[0]);
  const align = attrNum(c, 'align_corners', 0) !== 0;
  // Normalized coordinate of index i along a dim of size n.
  const coord = (i: string, n: number) => (align ? (n > 1 ? `(2.0f * f32(${i}) / ${lit(n - 1, 'f32')} - 1.0f)` : '0.0f') : `((2.0f * f32(${i}) + 1.0f) / ${lit(n, 'f32')} - 1.0f)`);
  const names = r === 2 ? ['ih', 'iw'] : ['idp', 'ih', 'iw'];
  const st = sp.map((_, d) => sp.slice(d + 1).reduce((a, b) => a * b, 1));
  // Spatial dims are (D,) H, W; the point is (x, y(, z)) = (w, h(, d)).
  const pt = r === 2 ? [coord('iw', sp[1]), coord('ih', sp[0])] : [coord('iw', sp[2]), coord('ih', sp[1]), coord('idp', sp[0])];
  return `  let j = gid % ${r}u;
  let pnt = gid / ${r}u;
${names.map((nm, d) => `  let ${nm} = (pnt / ${st[d]}u) % ${sp[d]}u;`).join('\n')}
  let n = pnt / ${sp.reduce((a, b) => a * b, 1)}u;
  let row = (n * ${r}u + j) * ${r + 1}u;
  let p = array<f32, ${r}>(${pt.join(', ')});
  var acc = f32(in0[row + ${r}u]);
  for (var k = 0u; k < ${r}u; k++) { acc += f32(in0[row + k]) * p[k]; }
  y[gid] = ${t}(acc);`;
}

function agReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const o = c.layer.outputs[0];
  const r = o.shape.length - 2;
  const sp = o.shape.slice(1, -1);
  const align = attrNum(c, 'align_corners', 0) !== 0;
  const coord = (i: number, n: number) => (align ? (n > 1 ? (2 * i) / (n - 1) - 1 : 0) : (2 * i + 1) / n - 1);
  const th = values(inputs[0]!);
  const Y = new Float32Array(elements(o));
  const P = sp.reduce((a, b) => a * b, 1);
  for (let g = 0; g < Y.length; g++) {
    const j = g % r, pnt = Math.floor(g / r), n = Math.floor(pnt / P);
    const idx = sp.map((d, k) => Math.floor(pnt / sp.slice(k + 1).reduce((a, b) => a * b, 1)) % d);
    const p = r === 2 ? [coord(idx[1], sp[1]), coord(idx[0], sp[0])] : [coord(idx[2], sp[2]), coord(idx[1], sp[1]), coord(idx[0], sp[0])];
    const row = (n * r + j) * (r + 1);
    let acc = th[row + r];
    for (let k = 0; k < r; k++) acc += th[row + k] * p[k];
    Y[g] = acc;
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data: Y }];
}

const affineGrid: Simple = {
  name: 'affine-grid',
  ops: ['AffineGrid'],
  variant: 'naive',
  description: 'one output coordinate per invocation',
  bound: () => [0],
  check: agCheck,
  body: agBody,
  reference: agReference,
};

// ---------------------------------------------------------------------------------------------
// MaxRoiPool

/** C's round(): half away from zero. */
const roundAway = (v: number): number => Math.sign(v) * Math.round(Math.abs(v));

function mrpCheck(c: LayerCase): Support {
  const [x, rois] = c.layer.inputs;
  if (!x || !rois || !isFloat(x.dtype) || gt(rois) !== gt(x)) return unsupported('X and rois must be float32/float16 of one type');
  if (x.shape.length !== 4) return unsupported('X must be [N, C, H, W]');
  if (rois.shape.length !== 2 || rois.shape[1] !== 5) return unsupported('rois must be [R, 5]');
  if (c.layer.outputs[0].shape.length !== 4) return unsupported('pooled_shape must be 2-D');
  return supported;
}

function mrpBody(c: LayerCase): string {
  const [, C, H, W] = c.layer.inputs[0]!.shape;
  const [, , ph, pw] = c.layer.outputs[0].shape;
  const t = gt(c.layer.outputs[0]);
  const sc = lit(attrNum(c, 'spatial_scale', 1), 'f32');
  // WGSL round() is half-to-even; Caffe rounds half away from zero.
  const rnd = (v: string) => `i32(sign(${v}) * floor(abs(${v}) + 0.5f))`;
  return `  let q = gid % ${pw}u;
  let p = (gid / ${pw}u) % ${ph}u;
  let ch = (gid / ${pw * ph}u) % ${C}u;
  let ri = gid / ${pw * ph * C}u;
  let n = u32(max(i32(f32(in1[ri * 5u])), 0i));
  let x1 = f32(in1[ri * 5u + 1u]) * ${sc};
  let y1 = f32(in1[ri * 5u + 2u]) * ${sc};
  let x2 = f32(in1[ri * 5u + 3u]) * ${sc};
  let y2 = f32(in1[ri * 5u + 4u]) * ${sc};
  let sw = ${rnd('x1')};
  let sh = ${rnd('y1')};
  let rw = max(${rnd('x2')} - sw + 1i, 1i);
  let rh = max(${rnd('y2')} - sh + 1i, 1i);
  let bh = f32(rh) / ${lit(ph, 'f32')};
  let bw = f32(rw) / ${lit(pw, 'f32')};
  let hs = clamp(i32(floor(f32(p) * bh)) + sh, 0i, ${H}i);
  let he = clamp(i32(ceil(f32(p + 1u) * bh)) + sh, 0i, ${H}i);
  let ws = clamp(i32(floor(f32(q) * bw)) + sw, 0i, ${W}i);
  let we = clamp(i32(ceil(f32(q + 1u) * bw)) + sw, 0i, ${W}i);
  let base = (n * ${C}u + ch) * ${H * W}u;
  var m = 0.0f;
  if (he > hs && we > ws) {
    m = f32(in0[base + u32(hs) * ${W}u + u32(ws)]);
    for (var h = hs; h < he; h++) {
      for (var w = ws; w < we; w++) { m = max(m, f32(in0[base + u32(h) * ${W}u + u32(w)])); }
    }
  }
  y[gid] = ${t}(m);`;
}

function mrpReference(c: LayerCase, inputs: Array<HostTensor | null>): HostTensor[] {
  const [, C, H, W] = c.layer.inputs[0]!.shape;
  const o = c.layer.outputs[0];
  const [, , ph, pw] = o.shape;
  const sc = attrNum(c, 'spatial_scale', 1);
  const X = values(inputs[0]!), R = values(inputs[1]!);
  const f = Math.fround;
  const Y = new Float32Array(elements(o));
  for (let g = 0; g < Y.length; g++) {
    const q = g % pw, p = Math.floor(g / pw) % ph, ch = Math.floor(g / (pw * ph)) % C, ri = Math.floor(g / (pw * ph * C));
    const n = Math.max(0, Math.trunc(R[ri * 5]));
    const [x1, y1, x2, y2] = [1, 2, 3, 4].map((k) => f(R[ri * 5 + k] * sc));
    const sw = roundAway(x1), sh = roundAway(y1);
    const rw = Math.max(roundAway(x2) - sw + 1, 1), rh = Math.max(roundAway(y2) - sh + 1, 1);
    const bh = f(rh / ph), bw = f(rw / pw);
    const cl = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
    const hs = cl(Math.floor(f(p * bh)) + sh, H), he = cl(Math.ceil(f((p + 1) * bh)) + sh, H);
    const ws = cl(Math.floor(f(q * bw)) + sw, W), we = cl(Math.ceil(f((q + 1) * bw)) + sw, W);
    let m = 0;
    if (he > hs && we > ws) {
      m = -Infinity;
      for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) m = Math.max(m, X[(n * C + ch) * H * W + h * W + w]);
    }
    Y[g] = m;
  }
  return [{ dtype: o.dtype, shape: [...o.shape], data: Y }];
}

const maxRoiPool: Simple = {
  name: 'max-roi-pool',
  ops: ['MaxRoiPool'],
  variant: 'naive',
  description: 'one output element per invocation, the maximum over its bin',
  bound: () => [0, 1],
  check: mrpCheck,
  body: mrpBody,
  reference: mrpReference,
};

export const kernels: Kernel[] = [gridSample, roiAlign, affineGrid, maxRoiPool].map(simpleKernel);
