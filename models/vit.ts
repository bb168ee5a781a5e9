/**
 * Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", 2020), laid out like
 * timm's `vit_base_patch16_224` exported by torch.onnx (opset 17) with a dynamic batch axis:
 *
 * - the batch dimension is the symbolic `batch`, so every Reshape target is computed at run time
 *   from the input's shape (Shape → Gather → Unsqueeze → Concat → Reshape), with Constant nodes as
 *   the operands of that arithmetic — the host-side shape subgraphs dlprof constant-folds;
 * - Linear layers on 3-D activations are MatMul (weight stored transposed, [in, out]) + Add;
 *   the classifier on the 2-D class token is Gemm(transB=1);
 * - GELU (exact) is Div(√2) → Erf → Add(1) → Mul(x) → Mul(0.5), as torch.onnx writes it below
 *   opset 20;
 * - LayerNormalization is the opset-17 op (eps 1e-6).
 */
import { dimsOf, Exporter, gemm, type BatchDim, type BuiltModel } from './common.js';

export interface ViTConfig {
  image: number;
  patch: number;
  dim: number;
  depth: number;
  heads: number;
  /** Hidden width of the MLP (4 × dim in ViT-B). */
  mlp: number;
  numClasses: number;
  batch: BatchDim;
  seed: number;
}

export const VIT_B16: ViTConfig = { image: 224, patch: 16, dim: 768, depth: 12, heads: 12, mlp: 3072, numClasses: 1000, batch: 'batch', seed: 16 };
export const VIT_TINY: ViTConfig = { image: 32, patch: 8, dim: 32, depth: 2, heads: 2, mlp: 64, numClasses: 10, batch: 'batch', seed: 17 };

const LN_EPS = 1e-6;

class ViT {
  constructor(readonly e: Exporter, readonly cfg: ViTConfig) {}

  /** nn.Linear on a 3-D input: MatMul with the transposed weight, then Add of the bias. */
  linear(scope: string, x: string, fin: number, fout: number, gain = 3): string {
    const w = this.e.param(`${scope}.weight`, [fin, fout], { fanIn: fin, gain });
    const b = this.e.param(`${scope}.bias`, [fout], { uniform: [-0.02, 0.02] });
    return this.e.op(scope, 'Add', [this.e.op(scope, 'MatMul', [x, w]), b]);
  }

  layerNorm(scope: string, x: string): string {
    const d = this.cfg.dim;
    const scale = this.e.param(`${scope}.weight`, [d], { uniform: [0.9, 1.1] });
    const bias = this.e.param(`${scope}.bias`, [d], { uniform: [-0.02, 0.02] });
    return this.e.op(scope, 'LayerNormalization', [x, scale, bias], { axis: -1, epsilon: LN_EPS });
  }

  /** Scalar `x.shape[i]` as a 1-element tensor, ready for Concat (Gather → Unsqueeze). */
  dimOf(scope: string, shape: string, i: number): string {
    const e = this.e;
    const d = e.op(scope, 'Gather', [shape, e.constant(scope, [i], 'int64', [])], { axis: 0 });
    return e.op(scope, 'Unsqueeze', [d, e.constant(scope, [0])]);
  }

  /** Reshape to a target assembled from run-time dims and constants, as the exporter does. */
  reshapeTo(scope: string, x: string, parts: Array<string | number>): string {
    const e = this.e;
    const pieces = parts.map((p) => (typeof p === 'number' ? e.constant(scope, [p]) : p));
    const target = e.op(scope, 'Concat', pieces, { axis: 0 });
    return e.op(scope, 'Reshape', [x, target], { allowzero: 0 });
  }

  attention(s: string, x: string): string {
    const { e, cfg } = this;
    const headDim = cfg.dim / cfg.heads;
    // B, N, C = x.shape
    const shape = e.op(s, 'Shape', [x]);
    const [b, n, c] = [0, 1, 2].map((i) => this.dimOf(s, shape, i));
    const qkv = this.linear(`${s}.qkv`, x, cfg.dim, 3 * cfg.dim);
    // qkv.reshape(B, N, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    const heads = e.op(s, 'Transpose', [this.reshapeTo(s, qkv, [b, n, 3, cfg.heads, headDim])], { perm: [2, 0, 3, 1, 4] });
    const [q, k, v] = [0, 1, 2].map((i) => e.op(s, 'Gather', [heads, e.constant(s, [i], 'int64', [])], { axis: 0 }));
    const kt = e.op(s, 'Transpose', [k], { perm: [0, 1, 3, 2] });
    const scale = e.constant(s, [1 / Math.sqrt(headDim)], 'float32', []);
    const scores = e.op(s, 'Mul', [e.op(s, 'MatMul', [q, kt]), scale]);
    const attn = e.op(s, 'Softmax', [scores], { axis: -1 });
    // (attn @ v).transpose(1, 2).reshape(B, N, C)
    const ctx = e.op(s, 'Transpose', [e.op(s, 'MatMul', [attn, v])], { perm: [0, 2, 1, 3] });
    return this.linear(`${s}.proj`, this.reshapeTo(s, ctx, [b, n, c]), cfg.dim, cfg.dim);
  }

  /** Exact GELU as the exporter decomposes it. */
  gelu(s: string, x: string): string {
    const e = this.e;
    const erf = e.op(s, 'Erf', [e.op(s, 'Div', [x, e.constant(s, [Math.SQRT2], 'float32', [])])]);
    const onePlus = e.op(s, 'Add', [erf, e.constant(s, [1], 'float32', [])]);
    return e.op(s, 'Mul', [e.op(s, 'Mul', [x, onePlus]), e.constant(s, [0.5], 'float32', [])]);
  }

  block(s: string, x: string): string {
    const { e, cfg } = this;
    const a = this.attention(`${s}.attn`, this.layerNorm(`${s}.norm1`, x));
    x = e.op(s, 'Add', [x, a]);
    let h = this.linear(`${s}.mlp.fc1`, this.layerNorm(`${s}.norm2`, x), cfg.dim, cfg.mlp, 6);
    h = this.gelu(`${s}.mlp.act`, h);
    h = this.linear(`${s}.mlp.fc2`, h, cfg.mlp, cfg.dim);
    return e.op(s, 'Add', [x, h]);
  }
}

export function buildViT(cfg: ViTConfig, name = 'vit'): BuiltModel {
  if (cfg.image % cfg.patch !== 0) throw new Error(`image ${cfg.image} is not a multiple of patch ${cfg.patch}`);
  if (cfg.dim % cfg.heads !== 0) throw new Error(`dim ${cfg.dim} is not a multiple of heads ${cfg.heads}`);
  const e = new Exporter(name, cfg.seed);
  const m = new ViT(e, cfg);
  const tokens = (cfg.image / cfg.patch) ** 2;
  const input = e.input('input', 'float32', [cfg.batch, 3, cfg.image, cfg.image]);

  // patch_embed: Conv(k=stride=patch), then x.flatten(2).transpose(1, 2).
  const wfan = 3 * cfg.patch * cfg.patch;
  const pw = e.param('patch_embed.proj.weight', [cfg.dim, 3, cfg.patch, cfg.patch], { fanIn: wfan, gain: 3 });
  const pb = e.param('patch_embed.proj.bias', [cfg.dim], { uniform: [-0.02, 0.02] });
  let x = e.op('patch_embed.proj', 'Conv', [input, pw, pb], {
    dilations: [1, 1], group: 1, kernel_shape: [cfg.patch, cfg.patch], pads: [0, 0, 0, 0], strides: [cfg.patch, cfg.patch],
  });
  const convShape = e.op('patch_embed', 'Shape', [x]);
  const lead = e.op('patch_embed', 'Slice', [convShape, e.constant('patch_embed', [0]), e.constant('patch_embed', [2]), e.constant('patch_embed', [0])]);
  x = m.reshapeTo('patch_embed', x, [lead, -1]);
  x = e.op('patch_embed', 'Transpose', [x], { perm: [0, 2, 1] });

  // cls_token.expand(B, -1, -1), concatenated in front of the patch tokens; then + pos_embed.
  const cls = e.param('cls_token', [1, 1, cfg.dim], { uniform: [-0.02, 0.02] });
  const b = m.dimOf('', e.op('', 'Shape', [x]), 0);
  const expandTo = e.op('', 'Concat', [b, e.constant('', [1]), e.constant('', [1])], { axis: 0 });
  x = e.op('', 'Concat', [e.op('', 'Expand', [cls, expandTo]), x], { axis: 1 });
  const pos = e.param('pos_embed', [1, tokens + 1, cfg.dim], { uniform: [-0.02, 0.02] });
  x = e.op('', 'Add', [x, pos]);

  for (let i = 0; i < cfg.depth; i++) x = m.block(`blocks.${i}`, x);
  x = m.layerNorm('norm', x);
  // x[:, 0]: the class token.
  x = e.op('', 'Gather', [x, e.constant('', [0], 'int64', [])], { axis: 1 });
  x = gemm(e, 'head', x, cfg.dim, cfg.numClasses);
  e.output(x, 'output', 'float32', [cfg.batch, cfg.numClasses]);
  return { graph: e.g, opsets: { '': 17 }, dims: dimsOf(cfg.batch) };
}
