/**
 * MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", 2018),
 * laid out like torchvision's `mobilenet_v2` exported by torch.onnx in eval mode: each
 * Conv + BatchNorm pair is folded into one Conv with a bias (the exporter's Conv-BN fusion), ReLU6
 * is `Clip` with min/max as inputs (opset 11+), depthwise convs are Conv with group = channels.
 */
import { conv, dimsOf, Exporter, gemm, poolFlatten, type BatchDim, type BuiltModel } from './common.js';

export interface MobileNetV2Config {
  /** Width multiplier applied to every layer's channels (1.0 is the paper's network). */
  widthMult: number;
  /** Inverted residual settings [t (expansion), c (channels), n (repeats), s (first stride)]. */
  settings: Array<[number, number, number, number]>;
  /** Channels of the final 1x1 conv (1280 in the paper; scaled by widthMult when > 1). */
  lastChannel: number;
  numClasses: number;
  image: number;
  batch: BatchDim;
  seed: number;
}

export const MOBILENETV2: MobileNetV2Config = {
  widthMult: 1,
  settings: [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]],
  lastChannel: 1280, numClasses: 1000, image: 224, batch: 1, seed: 2,
};

export const MOBILENET_TINY: MobileNetV2Config = {
  widthMult: 0.25,
  settings: [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 1, 2]],
  lastChannel: 64, numClasses: 10, image: 32, batch: 1, seed: 3,
};

/** torchvision's `_make_divisible`: round to a multiple of 8, never down by more than 10%. */
function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** Conv (BN folded) followed by ReLU6 as Clip(x, 0, 6), in torchvision's Conv2dNormActivation. */
function convRelu6(e: Exporter, scope: string, x: string, cin: number, cout: number, k: number, stride: number, group = 1): string {
  const y = conv(e, `${scope}.0`, x, cin, { cout, k, stride, pad: (k - 1) / 2, group, bias: true });
  const lo = e.sharedInit('clip_min', 'float32', [], [0]);
  const hi = e.sharedInit('clip_max', 'float32', [], [6]);
  return e.op(`${scope}.2`, 'Clip', [y, lo, hi]);
}

function invertedResidual(e: Exporter, scope: string, x: string, cin: number, cout: number, stride: number, t: number): string {
  const hidden = Math.round(cin * t);
  let y = x;
  let i = 0;
  if (t !== 1) y = convRelu6(e, `${scope}.conv.${i++}`, y, cin, hidden, 1, 1);
  y = convRelu6(e, `${scope}.conv.${i++}`, y, hidden, hidden, 3, stride, hidden);
  // Linear bottleneck: 1x1 projection, no activation (its BN, conv.{i+1}, is folded in).
  y = conv(e, `${scope}.conv.${i}`, y, hidden, { cout, k: 1, bias: true, relu: false });
  return stride === 1 && cin === cout ? e.op(scope, 'Add', [x, y]) : y;
}

export function buildMobileNetV2(cfg: MobileNetV2Config, name = 'mobilenetv2'): BuiltModel {
  const e = new Exporter(name, cfg.seed);
  const input = e.input('input', 'float32', [cfg.batch, 3, cfg.image, cfg.image]);
  let cin = makeDivisible(32 * cfg.widthMult);
  let x = convRelu6(e, 'features.0', input, 3, cin, 3, 2);
  let f = 1;
  for (const [t, c, n, s] of cfg.settings) {
    const cout = makeDivisible(c * cfg.widthMult);
    for (let i = 0; i < n; i++) {
      x = invertedResidual(e, `features.${f++}`, x, cin, cout, i === 0 ? s : 1, t);
      cin = cout;
    }
  }
  const last = makeDivisible(cfg.lastChannel * Math.max(1, cfg.widthMult));
  x = convRelu6(e, `features.${f}`, x, cin, last, 1, 1);
  x = poolFlatten(e, '', x);
  // classifier.0 is Dropout, gone in an eval-mode export.
  x = gemm(e, 'classifier.1', x, last, cfg.numClasses);
  e.output(x, 'output', 'float32', [cfg.batch, cfg.numClasses]);
  return { graph: e.g, opsets: { '': 17 }, dims: dimsOf(cfg.batch) };
}
