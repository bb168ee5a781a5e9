/**
 * Inception-v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
 * 2015), laid out like torchvision's `inception_v3` (aux classifier off, eval mode) exported by
 * torch.onnx: each BasicConv2d (Conv + BatchNorm(eps 1e-3) + ReLU) becomes Conv-with-bias + Relu
 * (BN folded), and every Inception module is parallel branches — 1x1, 5x5, double 3x3, factorized
 * 1x7/7x1, split 1x3/3x1, pooling — joined by Concat on the channel axis.
 */
import { avgPool, conv, dimsOf, Exporter, gemm, maxPool, poolFlatten, type BatchDim, type BuiltModel } from './common.js';

export interface InceptionConfig {
  /** Channel multiplier for every layer (1 is Inception-v3). */
  scale: number;
  /** Mixed_5*: InceptionA modules, by pool_features ([32, 64, 64] in Inception-v3). */
  mixed5: number[];
  /** Mixed_6b…: InceptionC modules, by channels_7x7 ([128, 160, 160, 192]). */
  mixed6: number[];
  /** Mixed_7b…: number of InceptionE modules (2). */
  mixed7: number;
  numClasses: number;
  /** Input height and width (299; at least 75). */
  image: number;
  batch: BatchDim;
  seed: number;
}

export const INCEPTION_V3: InceptionConfig = {
  scale: 1, mixed5: [32, 64, 64], mixed6: [128, 160, 160, 192], mixed7: 2, numClasses: 1000, image: 299, batch: 1, seed: 3,
};

/** One module of each kind, channels / 24, the smallest input the stem allows (about 80 KB). */
export const INCEPTION_TINY: InceptionConfig = {
  scale: 1 / 24, mixed5: [32], mixed6: [128], mixed7: 1, numClasses: 10, image: 75, batch: 1, seed: 4,
};

class Inception {
  constructor(readonly e: Exporter, readonly scale: number) {}

  ch(c: number): number {
    return Math.max(1, Math.round(c * this.scale));
  }

  /** BasicConv2d with the BN folded: Conv(bias) → Relu. Returns [output, channels]. */
  basic(scope: string, x: string, cin: number, cout: number, k: number | [number, number], stride = 1,
    pad: number | [number, number] = 0): [string, number] {
    const c = this.ch(cout);
    const y = conv(this.e, `${scope}.conv`, x, cin, { cout: c, k, stride, pad, bias: true });
    return [this.e.op(scope, 'Relu', [y]), c];
  }

  concat(scope: string, parts: Array<[string, number]>): [string, number] {
    return [this.e.op(scope, 'Concat', parts.map((p) => p[0]), { axis: 1 }), parts.reduce((s, p) => s + p[1], 0)];
  }

  /** InceptionA: 1x1 | 1x1→5x5 | 1x1→3x3→3x3 | avgpool→1x1. */
  a(s: string, x: string, cin: number, poolFeatures: number): [string, number] {
    const b1 = this.basic(`${s}.branch1x1`, x, cin, 64, 1);
    let b5 = this.basic(`${s}.branch5x5_1`, x, cin, 48, 1);
    b5 = this.basic(`${s}.branch5x5_2`, b5[0], b5[1], 64, 5, 1, 2);
    let b3 = this.basic(`${s}.branch3x3dbl_1`, x, cin, 64, 1);
    b3 = this.basic(`${s}.branch3x3dbl_2`, b3[0], b3[1], 96, 3, 1, 1);
    b3 = this.basic(`${s}.branch3x3dbl_3`, b3[0], b3[1], 96, 3, 1, 1);
    const pool = avgPool(this.e, s, x, 3, 1, 1);
    const bp = this.basic(`${s}.branch_pool`, pool, cin, poolFeatures, 1);
    return this.concat(s, [b1, b5, b3, bp]);
  }

  /** InceptionB (grid reduction 35→17): 3x3/2 | 1x1→3x3→3x3/2 | maxpool/2. */
  b(s: string, x: string, cin: number): [string, number] {
    const b3 = this.basic(`${s}.branch3x3`, x, cin, 384, 3, 2);
    let bd = this.basic(`${s}.branch3x3dbl_1`, x, cin, 64, 1);
    bd = this.basic(`${s}.branch3x3dbl_2`, bd[0], bd[1], 96, 3, 1, 1);
    bd = this.basic(`${s}.branch3x3dbl_3`, bd[0], bd[1], 96, 3, 2);
    const bp: [string, number] = [maxPool(this.e, s, x, 3, 2), cin];
    return this.concat(s, [b3, bd, bp]);
  }

  /** InceptionC: 1x1 | 1x1→1x7→7x1 | 1x1→7x1→1x7→7x1→1x7 | avgpool→1x1 (factorized 7x7). */
  c(s: string, x: string, cin: number, c7: number): [string, number] {
    const b1 = this.basic(`${s}.branch1x1`, x, cin, 192, 1);
    let b7 = this.basic(`${s}.branch7x7_1`, x, cin, c7, 1);
    b7 = this.basic(`${s}.branch7x7_2`, b7[0], b7[1], c7, [1, 7], 1, [0, 3]);
    b7 = this.basic(`${s}.branch7x7_3`, b7[0], b7[1], 192, [7, 1], 1, [3, 0]);
    let bd = this.basic(`${s}.branch7x7dbl_1`, x, cin, c7, 1);
    bd = this.basic(`${s}.branch7x7dbl_2`, bd[0], bd[1], c7, [7, 1], 1, [3, 0]);
    bd = this.basic(`${s}.branch7x7dbl_3`, bd[0], bd[1], c7, [1, 7], 1, [0, 3]);
    bd = this.basic(`${s}.branch7x7dbl_4`, bd[0], bd[1], c7, [7, 1], 1, [3, 0]);
    bd = this.basic(`${s}.branch7x7dbl_5`, bd[0], bd[1], 192, [1, 7], 1, [0, 3]);
    const pool = avgPool(this.e, s, x, 3, 1, 1);
    const bp = this.basic(`${s}.branch_pool`, pool, cin, 192, 1);
    return this.concat(s, [b1, b7, bd, bp]);
  }

  /** InceptionD (grid reduction 17→8): 1x1→3x3/2 | 1x1→1x7→7x1→3x3/2 | maxpool/2. */
  d(s: string, x: string, cin: number): [string, number] {
    let b3 = this.basic(`${s}.branch3x3_1`, x, cin, 192, 1);
    b3 = this.basic(`${s}.branch3x3_2`, b3[0], b3[1], 320, 3, 2);
    let b7 = this.basic(`${s}.branch7x7x3_1`, x, cin, 192, 1);
    b7 = this.basic(`${s}.branch7x7x3_2`, b7[0], b7[1], 192, [1, 7], 1, [0, 3]);
    b7 = this.basic(`${s}.branch7x7x3_3`, b7[0], b7[1], 192, [7, 1], 1, [3, 0]);
    b7 = this.basic(`${s}.branch7x7x3_4`, b7[0], b7[1], 192, 3, 2);
    const bp: [string, number] = [maxPool(this.e, s, x, 3, 2), cin];
    return this.concat(s, [b3, b7, bp]);
  }

  /** InceptionE: 1x1 | 1x1→(1x3 ‖ 3x1) | 1x1→3x3→(1x3 ‖ 3x1) | avgpool→1x1; nested Concats. */
  eBlock(s: string, x: string, cin: number): [string, number] {
    const b1 = this.basic(`${s}.branch1x1`, x, cin, 320, 1);
    const b3in = this.basic(`${s}.branch3x3_1`, x, cin, 384, 1);
    const b3 = this.concat(s, [
      this.basic(`${s}.branch3x3_2a`, b3in[0], b3in[1], 384, [1, 3], 1, [0, 1]),
      this.basic(`${s}.branch3x3_2b`, b3in[0], b3in[1], 384, [3, 1], 1, [1, 0]),
    ]);
    let bd = this.basic(`${s}.branch3x3dbl_1`, x, cin, 448, 1);
    bd = this.basic(`${s}.branch3x3dbl_2`, bd[0], bd[1], 384, 3, 1, 1);
    const bdd = this.concat(s, [
      this.basic(`${s}.branch3x3dbl_3a`, bd[0], bd[1], 384, [1, 3], 1, [0, 1]),
      this.basic(`${s}.branch3x3dbl_3b`, bd[0], bd[1], 384, [3, 1], 1, [1, 0]),
    ]);
    const pool = avgPool(this.e, s, x, 3, 1, 1);
    const bp = this.basic(`${s}.branch_pool`, pool, cin, 192, 1);
    return this.concat(s, [b1, b3, bdd, bp]);
  }
}

export function buildInception(cfg: InceptionConfig, name = 'inception_v3'): BuiltModel {
  if (cfg.image < 75) throw new Error(`Inception-v3 needs an input of at least 75x75, not ${cfg.image}`);
  const e = new Exporter(name, cfg.seed);
  const m = new Inception(e, cfg.scale);
  const input = e.input('input', 'float32', [cfg.batch, 3, cfg.image, cfg.image]);
  let x: [string, number] = [input, 3];
  x = m.basic('Conv2d_1a_3x3', x[0], x[1], 32, 3, 2);
  x = m.basic('Conv2d_2a_3x3', x[0], x[1], 32, 3);
  x = m.basic('Conv2d_2b_3x3', x[0], x[1], 64, 3, 1, 1);
  x = [maxPool(e, 'maxpool1', x[0], 3, 2), x[1]];
  x = m.basic('Conv2d_3b_1x1', x[0], x[1], 80, 1);
  x = m.basic('Conv2d_4a_3x3', x[0], x[1], 192, 3);
  x = [maxPool(e, 'maxpool2', x[0], 3, 2), x[1]];
  const letters = 'bcdefgh';
  cfg.mixed5.forEach((pf, i) => { x = m.a(`Mixed_5${letters[i]}`, x[0], x[1], pf); });
  x = m.b('Mixed_6a', x[0], x[1]);
  cfg.mixed6.forEach((c7, i) => { x = m.c(`Mixed_6${letters[i + 1]}`, x[0], x[1], c7); });
  x = m.d('Mixed_7a', x[0], x[1]);
  for (let i = 0; i < cfg.mixed7; i++) x = m.eBlock(`Mixed_7${letters[i + 1]}`, x[0], x[1]);
  // avgpool (AdaptiveAvgPool2d(1)) → dropout (gone in eval) → flatten → fc.
  const flat = poolFlatten(e, 'avgpool', x[0]);
  const out = gemm(e, 'fc', flat, x[1], cfg.numClasses);
  e.output(out, 'output', 'float32', [cfg.batch, cfg.numClasses]);
  return { graph: e.g, opsets: { '': 17 }, dims: dimsOf(cfg.batch) };
}
