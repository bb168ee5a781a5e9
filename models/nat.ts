/**
 * Neighborhood Attention Transformer (Hassani et al., "Neighborhood Attention Transformer",
 * CVPR 2023) with DiNAT's alternating dilation (Hassani & Shi, "Dilated Neighborhood Attention
 * Transformer", 2022), laid out as NATTEN's reference model would export with torch.onnx (opset 17)
 * and neighborhood attention as the custom op `dlprof.NeighborhoodAttention`:
 *
 * - tokenizer: two overlapping 3×3 stride-2 convolutions (4× downsampling), then channels-last
 *   [B, H, W, C] and LayerNorm; every stage works channels-last;
 * - NA block: x + proj(NA(qkv(LN(x)))), then x + fc2(GELU(fc1(LN(x)))); qkv is one Linear
 *   (MatMul + Add) reshaped to [B, H, W, 3, heads, head_dim] and permuted to
 *   [3, B, heads, H, W, head_dim], q/k/v gathered from it; the op takes NAT's relative-position
 *   bias [heads, 2k−1, 2k−1] and scales by head_dim^−½ itself (its default);
 * - dilation alternates 1, d within a stage (DiNAT), d = ⌊resolution / kernel⌋ (1 when that is
 *   below 2, i.e. the last stage of NAT-Mini where 7×7 tokens meet a 7×7 window);
 * - downsampler between stages: a 3×3 stride-2 convolution (channels doubled, no bias),
 *   channels-first around it, then LayerNorm;
 * - head: LayerNorm, mean over the tokens, Linear (Gemm).
 * GELU is exact, as torch.onnx writes it below opset 20 (Div → Erf → Add → Mul → Mul). Reshapes
 * copy the (symbolic) batch and spatial dims with 0 entries, so no shape subgraph is needed.
 */
import { dimsOf, Exporter, gemm, type BatchDim, type BuiltModel } from './common.js';

export interface NATConfig {
  image: number;
  /** Embedding width per stage. */
  dims: number[];
  depths: number[];
  heads: number[];
  /** Neighborhood (kernel) size, the same in every stage. */
  kernel: number;
  /** MLP hidden width = mlpRatio × dim. */
  mlpRatio: number;
  /** DiNAT: every second block of a stage uses dilation ⌊resolution / kernel⌋. */
  dilated: boolean;
  numClasses: number;
  batch: BatchDim;
  seed: number;
}

/** NAT-Mini (20M parameters) with DiNAT's dilations. */
export const NAT_MINI: NATConfig = {
  image: 224, dims: [64, 128, 256, 512], depths: [3, 4, 6, 5], heads: [2, 4, 8, 16], kernel: 7, mlpRatio: 3,
  dilated: true, numClasses: 1000, batch: 'batch', seed: 23,
};

/** Two stages on a 32×32 input (8×8 then 4×4 tokens), kernel 3: dilation 2 in stage 1. */
export const NAT_TINY: NATConfig = {
  image: 32, dims: [16, 32], depths: [2, 2], heads: [2, 4], kernel: 3, mlpRatio: 2,
  dilated: true, numClasses: 10, batch: 'batch', seed: 24,
};

const LN_EPS = 1e-5;

class NAT {
  constructor(readonly e: Exporter, readonly cfg: NATConfig) {}

  linear(scope: string, x: string, fin: number, fout: number, gain = 3): string {
    const w = this.e.param(`${scope}.weight`, [fin, fout], { fanIn: fin, gain });
    const b = this.e.param(`${scope}.bias`, [fout], { uniform: [-0.02, 0.02] });
    return this.e.op(scope, 'Add', [this.e.op(scope, 'MatMul', [x, w]), b]);
  }

  layerNorm(scope: string, x: string, dim: number): string {
    const scale = this.e.param(`${scope}.weight`, [dim], { uniform: [0.9, 1.1] });
    const bias = this.e.param(`${scope}.bias`, [dim], { uniform: [-0.02, 0.02] });
    return this.e.op(scope, 'LayerNormalization', [x, scale, bias], { axis: -1, epsilon: LN_EPS });
  }

  conv(scope: string, x: string, cin: number, cout: number, bias: boolean): string {
    const w = this.e.param(`${scope}.weight`, [cout, cin, 3, 3], { fanIn: cin * 9, gain: 3 });
    const inputs = [x, w];
    if (bias) inputs.push(this.e.param(`${scope}.bias`, [cout], { uniform: [-0.05, 0.05] }));
    return this.e.op(scope, 'Conv', inputs, { dilations: [1, 1], group: 1, kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] });
  }

  reshape(scope: string, x: string, target: number[]): string {
    return this.e.op(scope, 'Reshape', [x, this.e.constant(scope, target)], { allowzero: 0 });
  }

  gelu(s: string, x: string): string {
    const e = this.e;
    const erf = e.op(s, 'Erf', [e.op(s, 'Div', [x, e.constant(s, [Math.SQRT2], 'float32', [])])]);
    const onePlus = e.op(s, 'Add', [erf, e.constant(s, [1], 'float32', [])]);
    return e.op(s, 'Mul', [e.op(s, 'Mul', [x, onePlus]), e.constant(s, [0.5], 'float32', [])]);
  }

  attention(s: string, x: string, dim: number, heads: number, dilation: number): string {
    const { e, cfg } = this;
    const hd = dim / heads;
    const qkv = this.linear(`${s}.qkv`, x, dim, 3 * dim);
    // qkv.reshape(B, H, W, 3, heads, hd).permute(3, 0, 4, 1, 2, 5)
    const t = e.op(s, 'Transpose', [this.reshape(s, qkv, [0, 0, 0, 3, heads, hd])], { perm: [3, 0, 4, 1, 2, 5] });
    const [q, k, v] = [0, 1, 2].map((i) => e.op(s, 'Gather', [t, e.constant(s, [i], 'int64', [])], { axis: 0 }));
    const k2 = 2 * cfg.kernel - 1;
    const rpb = e.param(`${s}.rpb`, [heads, k2, k2], { uniform: [-0.02, 0.02] });
    const na = e.g.node('NeighborhoodAttention', [q, k, v, rpb], { kernel_size: [cfg.kernel, cfg.kernel], dilation: [dilation, dilation] },
      { name: e.nodeName(s, 'NeighborhoodAttention'), domain: 'dlprof', outputs: 1 })[0];
    // x.permute(0, 2, 3, 1, 4).reshape(B, H, W, C)
    const back = this.reshape(s, e.op(s, 'Transpose', [na], { perm: [0, 2, 3, 1, 4] }), [0, 0, 0, dim]);
    return this.linear(`${s}.proj`, back, dim, dim);
  }

  block(s: string, x: string, dim: number, heads: number, dilation: number): string {
    const e = this.e;
    x = e.op(s, 'Add', [x, this.attention(`${s}.attn`, this.layerNorm(`${s}.norm1`, x, dim), dim, heads, dilation)]);
    const hidden = Math.round(dim * this.cfg.mlpRatio);
    let h = this.linear(`${s}.mlp.fc1`, this.layerNorm(`${s}.norm2`, x, dim), dim, hidden, 6);
    h = this.gelu(`${s}.mlp.act`, h);
    h = this.linear(`${s}.mlp.fc2`, h, hidden, dim);
    return e.op(s, 'Add', [x, h]);
  }
}

export function buildNAT(cfg: NATConfig, name = 'nat'): BuiltModel {
  const n = cfg.dims.length;
  if (cfg.depths.length !== n || cfg.heads.length !== n) throw new Error('dims, depths and heads need one entry per stage');
  if (cfg.kernel % 2 !== 1) throw new Error(`kernel ${cfg.kernel} must be odd`);
  const e = new Exporter(name, cfg.seed);
  const m = new NAT(e, cfg);
  const input = e.input('input', 'float32', [cfg.batch, 3, cfg.image, cfg.image]);

  // patch_embed: Conv(3 → dim/2, s2) → Conv(→ dim, s2), channels-last, LayerNorm.
  let x = m.conv('patch_embed.proj.0', input, 3, cfg.dims[0] / 2, true);
  x = m.conv('patch_embed.proj.1', x, cfg.dims[0] / 2, cfg.dims[0], true);
  x = e.op('patch_embed', 'Transpose', [x], { perm: [0, 2, 3, 1] });
  x = m.layerNorm('patch_embed.norm', x, cfg.dims[0]);

  let res = Math.floor(cfg.image / 4);
  for (let si = 0; si < n; si++) {
    const dim = cfg.dims[si];
    if (dim % cfg.heads[si] !== 0) throw new Error(`stage ${si}: dim ${dim} is not a multiple of heads ${cfg.heads[si]}`);
    if (res < cfg.kernel) throw new Error(`stage ${si}: ${res}×${res} tokens are fewer than the ${cfg.kernel}×${cfg.kernel} window`);
    const dil = cfg.dilated ? Math.max(1, Math.floor(res / cfg.kernel)) : 1;
    for (let b = 0; b < cfg.depths[si]; b++) {
      x = m.block(`levels.${si}.blocks.${b}`, x, dim, cfg.heads[si], b % 2 === 1 ? dil : 1);
    }
    if (si < n - 1) {
      // ConvDownsampler: channels-first for the 3×3 stride-2 Conv, back, LayerNorm.
      const s = `levels.${si}.downsample`;
      let y = e.op(s, 'Transpose', [x], { perm: [0, 3, 1, 2] });
      y = m.conv(`${s}.reduction`, y, dim, cfg.dims[si + 1], false);
      x = m.layerNorm(`${s}.norm`, e.op(s, 'Transpose', [y], { perm: [0, 2, 3, 1] }), cfg.dims[si + 1]);
      res = Math.floor((res - 1) / 2) + 1;
    }
  }
  const last = cfg.dims[n - 1];
  x = m.layerNorm('norm', x, last);
  // avgpool over the tokens: x.flatten(1, 2).mean(1)
  x = e.op('avgpool', 'ReduceMean', [x], { axes: [1, 2], keepdims: 0 });
  x = gemm(e, 'head', x, last, cfg.numClasses);
  e.output(x, 'output', 'float32', [cfg.batch, cfg.numClasses]);
  return { graph: e.g, opsets: { '': 17, dlprof: 1 }, dims: dimsOf(cfg.batch) };
}
