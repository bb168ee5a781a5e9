/**
 * ResNet with bottleneck blocks (He et al., "Deep Residual Learning for Image Recognition", 2015;
 * torchvision's v1.5 variant, stride in the 3x3 conv), as torch.onnx exports it with batch norm
 * kept as separate BatchNormalization nodes (a training-mode export, or the ONNX model zoo's
 * ResNet-50), so the graph has Conv → BatchNormalization → Relu chains to fuse.
 */
import { batchNorm, conv, dimsOf, Exporter, gemm, maxPool, poolFlatten, type BatchDim, type BuiltModel } from './common.js';

export interface ResNetConfig {
  /** Bottleneck blocks per stage: ResNet-50 is [3, 4, 6, 3]. */
  layers: number[];
  /** Width of the first stage's bottleneck (64 in ResNet-50); doubles at each stage. */
  width: number;
  numClasses: number;
  /** Input height and width. */
  image: number;
  batch: BatchDim;
  seed: number;
}

export const RESNET50: ResNetConfig = { layers: [3, 4, 6, 3], width: 64, numClasses: 1000, image: 224, batch: 1, seed: 50 };
/**
 * About 100 KB: three stages (as CIFAR ResNets have) of two blocks each, so every stage has a
 * repeated block whose layers are identical.
 */
export const RESNET_TINY: ResNetConfig = { layers: [2, 2, 2], width: 4, numClasses: 10, image: 32, batch: 1, seed: 51 };

const EXPANSION = 4;

/**
 * A replacement for a bottleneck's 3×3 convolution (`conv2`, before its batch norm `bn2`), for
 * ResNet-derived models such as DCN (models/dcn.ts): returns the convolution's output, or null to
 * keep the regular Conv. `stage` counts from 0 (layer1).
 */
export type Conv3x3Hook = (e: Exporter, scope: string, x: string, width: number, stride: number, stage: number) => string | null;

/** How a ResNet-derived model differs from the plain one (nothing, by default). */
export interface ResNetVariant {
  conv3x3?: Conv3x3Hook;
  /** Opset imports (default { '': 17 }). */
  opsets?: Record<string, number>;
}

function convBn(e: Exporter, scope: string, convName: string, bnName: string, x: string, cin: number,
  spec: Parameters<typeof conv>[4], relu: boolean): string {
  let y = conv(e, `${scope}.${convName}`, x, cin, { ...spec, relu });
  y = batchNorm(e, `${scope}.${bnName}`, y, spec.cout);
  return relu ? e.op(scope, 'Relu', [y]) : y;
}

function bottleneck(e: Exporter, scope: string, x: string, cin: number, width: number, stride: number, stage: number, variant: ResNetVariant): string {
  const cout = width * EXPANSION;
  let y = convBn(e, scope, 'conv1', 'bn1', x, cin, { cout: width, k: 1 }, true);
  const custom = variant.conv3x3?.(e, scope, y, width, stride, stage) ?? null;
  y = custom === null
    ? convBn(e, scope, 'conv2', 'bn2', y, width, { cout: width, k: 3, stride, pad: 1 }, true)
    : e.op(scope, 'Relu', [batchNorm(e, `${scope}.bn2`, custom, width)]);
  y = convBn(e, scope, 'conv3', 'bn3', y, width, { cout, k: 1 }, false);
  let identity = x;
  if (stride !== 1 || cin !== cout) {
    identity = conv(e, `${scope}.downsample.0`, x, cin, { cout, k: 1, stride, relu: false });
    identity = batchNorm(e, `${scope}.downsample.1`, identity, cout);
  }
  return e.op(scope, 'Relu', [e.op(scope, 'Add', [y, identity])]);
}

export function buildResNet(cfg: ResNetConfig, name = 'resnet', variant: ResNetVariant = {}): BuiltModel {
  const e = new Exporter(name, cfg.seed);
  const input = e.input('input', 'float32', [cfg.batch, 3, cfg.image, cfg.image]);
  let x = conv(e, 'conv1', input, 3, { cout: cfg.width, k: 7, stride: 2, pad: 3 });
  x = batchNorm(e, 'bn1', x, cfg.width);
  x = e.op('relu', 'Relu', [x]);
  x = maxPool(e, 'maxpool', x, 3, 2, 1);
  let cin = cfg.width;
  cfg.layers.forEach((blocks, stage) => {
    const width = cfg.width * 2 ** stage;
    for (let b = 0; b < blocks; b++) {
      x = bottleneck(e, `layer${stage + 1}.${b}`, x, cin, width, b === 0 && stage > 0 ? 2 : 1, stage, variant);
      cin = width * EXPANSION;
    }
  });
  x = poolFlatten(e, 'avgpool', x);
  x = gemm(e, 'fc', x, cin, cfg.numClasses);
  e.output(x, 'output', 'float32', [cfg.batch, cfg.numClasses]);
  return { graph: e.g, opsets: variant.opsets ?? { '': 17 }, dims: dimsOf(cfg.batch) };
}
