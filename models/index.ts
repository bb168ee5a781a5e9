/**
 * The registry of representative models dlprof is developed and tested against. Each entry
 * builds its model from code (random seeded weights, exporter-like graph structure), so nothing
 * large is committed: `node dist/models/build.js` writes them to models/out/.
 */
import { toBytes, type BatchDim, type BuiltModel } from './common.js';
import { buildInception, INCEPTION_TINY, INCEPTION_V3 } from './inception.js';
import { buildMobileNetV2, MOBILENET_TINY, MOBILENETV2 } from './mobilenet.js';
import { buildResNet, RESNET50, RESNET_TINY } from './resnet.js';
import { buildViT, VIT_B16, VIT_TINY } from './vit.js';
import { buildDCN, DCN_R50, DCN_TINY } from './dcn.js';
import { buildNAT, NAT_MINI, NAT_TINY } from './nat.js';
import { buildSparseDNN, SPARSE_DNN_1024, SPARSE_DNN_4096, SPARSE_DNN_TINY } from './sparse-dnn.js';

export type { BuiltModel } from './common.js';
export { toBytes } from './common.js';

export interface BuildOptions {
  /** Overrides the batch dimension: a number makes it static, a string symbolic. */
  batch?: BatchDim;
}

export interface ModelEntry {
  name: string;
  description: string;
  /** Small enough for unit tests (well under 2 MB). */
  tiny: boolean;
  build(opts?: BuildOptions): BuiltModel;
  /** Values for the model's symbolic input dimensions that analysis needs (e.g. { batch: 1 }). */
  dims: Record<string, number>;
}

function entry<C extends { batch: BatchDim }>(name: string, description: string, tiny: boolean, cfg: C,
  build: (c: C, name: string) => BuiltModel): ModelEntry {
  return {
    name, description, tiny,
    build: (opts = {}) => build({ ...cfg, batch: opts.batch ?? cfg.batch }, name),
    dims: typeof cfg.batch === 'string' ? { [cfg.batch]: 1 } : {},
  };
}

export const MODELS: readonly ModelEntry[] = [
  entry('resnet50', 'ResNet-50 v1.5: bottlenecks 3-4-6-3, Conv+BatchNormalization+Relu, residual Add, Gemm head (25.6M params)',
    false, RESNET50, buildResNet),
  entry('mobilenetv2', 'MobileNetV2: inverted residuals, depthwise Conv, Clip as ReLU6, BN folded into Conv (3.5M params)',
    false, MOBILENETV2, buildMobileNetV2),
  entry('inception', 'Inception-v3: parallel 1x1/5x5/3x3/factorized 7x7/pool branches joined by Concat, 299x299 (23.8M params)',
    false, INCEPTION_V3, buildInception),
  entry('vit-b16', 'ViT-B/16: 12 pre-LN transformer blocks, symbolic batch with exporter shape subgraphs, Erf GELU (86.6M params)',
    false, VIT_B16, buildViT),
  entry('resnet-tiny', 'ResNet, 3 stages of 2 bottlenecks, base width 4, 32x32 input, 10 classes', true, RESNET_TINY, buildResNet),
  entry('mobilenet-tiny', 'MobileNetV2 x0.25, 4 stages, 32x32 input, 10 classes', true, MOBILENET_TINY, buildMobileNetV2),
  entry('inception-tiny', 'Inception-v3 /24 channels, one module of each kind (A, B, C, D, E), 75x75 input', true, INCEPTION_TINY, buildInception),
  entry('dcn-r50', 'ResNet-50-DCNv2: deformable 3x3 convs (opset-19 DeformConv, offsets and Sigmoid mask from a 27-channel conv) in conv3-conv5',
    false, DCN_R50, buildDCN),
  entry('nat-mini', 'NAT-Mini with DiNAT dilations: 4 stages of dlprof.NeighborhoodAttention (kernel 7), conv tokenizer and downsamplers (20.0M params)',
    false, NAT_MINI, buildNAT),
  entry('sparse-dnn-1024', 'Sparse DNN Graph Challenge: 120 layers of 1024 neurons, 32 connections each (sparse_initializer), bias −0.3, ReLU clipped at 32 (48 MB)',
    false, SPARSE_DNN_1024, buildSparseDNN),
  entry('sparse-dnn-4096', 'Sparse DNN Graph Challenge: 120 layers of 4096 neurons, 32 connections each, bias −0.35 (191 MB)', false, SPARSE_DNN_4096, buildSparseDNN),
  entry('sparse-dnn-tiny', 'Sparse DNN, 4 layers of 64 neurons, 8 connections each', true, SPARSE_DNN_TINY, buildSparseDNN),
  entry('dcn-tiny', 'ResNet-DCNv2 tiny: 3 stages, deformable 3x3 convs in the last two, 32x32 input, 10 classes', true, DCN_TINY, buildDCN),
  entry('nat-tiny', 'NAT/DiNAT, 2 stages, dim 16, kernel 3 (dilation 2 in stage 1), 32x32 input, symbolic batch', true, NAT_TINY, buildNAT),
  entry('vit-tiny', 'ViT, 2 blocks, dim 32, 2 heads, patch 8, 32x32 input, symbolic batch', true, VIT_TINY, buildViT),
];

export function findModel(name: string): ModelEntry | undefined {
  return MODELS.find((m) => m.name === name);
}

/** Builds a registered model and encodes it. */
export function buildModelBytes(name: string, opts?: BuildOptions): Uint8Array {
  const m = findModel(name);
  if (!m) throw new Error(`unknown model '${name}'; known: ${MODELS.map((x) => x.name).join(', ')}`);
  return toBytes(m.build(opts));
}
