/**
 * Deformable convolution (ONNX DeformConv with a mask, i.e. DCNv2) for `npm run bench:special`:
 * the im2col-gemm, fused (DefT-style) and fused-f16 kernels against the naive one, and each layer
 * against the regular 3×3 Conv of the same shape, to show how much the deformation costs.
 * DefT (the fused deformable-convolution paper) measures deformable convolution at about 4× the
 * regular convolution on a GPU for its 64×64, 64-channel layer. The other cases are the 3×3
 * convolutions of ResNet-50's conv3 and conv4 stages, which DCNv2 makes deformable.
 */
import type { SpecialCase } from './common.js';
import { layerCase } from './common.js';

/** A 3×3, stride-1, pad-1 layer on a c-channel s×s input: DeformConv with a mask, or the plain Conv. */
function layer(c: number, s: number, deformable: boolean): SpecialCase['build'] {
  return () => layerCase((g) => {
    g.input('x', 'float32', [1, c, s, s]);
    const w = g.init('w', 'float32', [c, c, 3, 3]);
    const attrs = { dilations: [1, 1], group: 1, kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] };
    if (deformable) {
      g.input('offset', 'float32', [1, 18, s, s]);
      g.input('mask', 'float32', [1, 9, s, s]);
      g.output(g.op('DeformConv', ['x', w, 'offset', '', 'mask'], { ...attrs, offset_group: 1 }), 'float32');
    } else {
      g.output(g.op('Conv', ['x', w], attrs), 'float32');
    }
  }, { '': 19 });
}

const SHAPES: Array<[number, number, string]> = [
  [64, 64, 'DefT layer'],
  [128, 28, 'ResNet-50 conv3'],
  [256, 14, 'ResNet-50 conv4'],
];

export const cases: SpecialCase[] = SHAPES.map(([c, s, what]): SpecialCase => ({
  group: 'deformable convolution',
  name: `${what}: ${s}×${s}, ${c}→${c}, 3×3, mask`,
  build: layer(c, s, true),
  baseline: 'naive',
  compare: [{ name: 'regular Conv', build: layer(c, s, false) }],
}));
