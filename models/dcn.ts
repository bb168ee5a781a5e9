/**
 * A DCN backbone: ResNet-50 whose bottleneck 3×3 convolutions in stages conv3–conv5 (layer2–layer4)
 * are modulated deformable convolutions, as in DCNv2 (Zhu et al., "Deformable ConvNets v2: More
 * Deformable, Better Results", 2019, §3.1/§4: "applied in the conv3–conv5 stages"; mmdetection's
 * `dcn=dict(type='DCNv2'), stage_with_dcn=(False, True, True, True)`).
 *
 * Each deformable conv is written as mmcv's ModulatedDeformConv2dPack exports with an ONNX opset
 * 19 target: a regular 3×3 offset conv (`conv2.conv_offset`, same stride, with bias) producing
 * 3·KK = 27 channels per offset group; chunked in three (Split) — the first two chunks
 * concatenated are the 18 offsets, the third through a Sigmoid is the 9-channel mask — then ONNX
 * `DeformConv` (no bias: batch norm follows) → BatchNormalization → Relu as in ResNet.
 *
 * The offset conv's weights are small (mmcv initializes them to zero, so that training starts
 * from the regular convolution; here ±0.01 instead, so that offsets are non-zero and fractional
 * and the weights are not all-zero "sparse" tensors), its bias ±0.5 pixels.
 */
import { Exporter, type BuiltModel } from './common.js';
import { buildResNet, RESNET50, RESNET_TINY, type ResNetConfig } from './resnet.js';

export interface DCNConfig extends ResNetConfig {
  /** Per stage (layer1…): whether its bottlenecks' 3×3 convolutions are deformable. */
  dcnStages: boolean[];
  /** Offset groups (`deform_groups` in mmcv, ONNX `offset_group`); mmdetection's default is 1. */
  deformGroups: number;
}

/** ResNet-50-DCNv2: deformable 3×3 convs in conv3–conv5 (13 of the 16 bottlenecks). */
export const DCN_R50: DCNConfig = { ...RESNET50, seed: 60, dcnStages: [false, true, true, true], deformGroups: 1 };

/** Tiny (under 150 KB): RESNET_TINY's three stages, deformable in the last two. */
export const DCN_TINY: DCNConfig = { ...RESNET_TINY, seed: 61, dcnStages: [false, true, true], deformGroups: 1 };

/** The deformable replacement of a bottleneck's conv2: offset conv, split, sigmoid mask, DeformConv. */
function deformConv3x3(cfg: DCNConfig) {
  return (e: Exporter, scope: string, x: string, width: number, stride: number, stage: number): string | null => {
    if (!cfg.dcnStages[stage]) return null;
    const dg = cfg.deformGroups;
    const kk = 9;
    const os = `${scope}.conv2.conv_offset`;
    const ow = e.param(`${os}.weight`, [3 * dg * kk, width, 3, 3], { uniform: [-0.01, 0.01] });
    const ob = e.param(`${os}.bias`, [3 * dg * kk], { uniform: [-0.5, 0.5] });
    const out = e.op(os, 'Conv', [x, ow, ob], { dilations: [1, 1], group: 1, kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride] });
    // torch.chunk(out, 3, dim=1) → Split with the sizes as a constant input (opset ≥ 13).
    const sizes = e.constant(`${scope}.conv2`, [dg * kk, dg * kk, dg * kk]);
    const [o1, o2, m] = e.node(`${scope}.conv2`, 'Split', [out, sizes], { axis: 1 }, 3);
    const offset = e.op(`${scope}.conv2`, 'Concat', [o1, o2], { axis: 1 });
    const mask = e.op(`${scope}.conv2`, 'Sigmoid', [m]);
    const w = e.param(`${scope}.conv2.weight`, [width, width, 3, 3], { fanIn: width * 9, gain: 6 });
    return e.op(`${scope}.conv2`, 'DeformConv', [x, w, offset, '', mask], {
      dilations: [1, 1], group: 1, kernel_shape: [3, 3], offset_group: dg, pads: [1, 1, 1, 1], strides: [stride, stride],
    });
  };
}

export function buildDCN(cfg: DCNConfig, name = 'dcn'): BuiltModel {
  return buildResNet(cfg, name, { conv3x3: deformConv3x3(cfg), opsets: { '': 19 } });
}
