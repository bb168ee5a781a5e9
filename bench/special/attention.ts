/** Attention for `npm run bench:special`: the fused (online-softmax) kernels, one invocation a row, a row split across lanes and FlashAttention-2's tiled form, against the unfused three passes. */
import type { SpecialCase } from './common.js';
import { layerCase } from './common.js';

const CONTRIB = { '': 17, 'com.microsoft': 1 };

/** com.microsoft.MultiHeadAttention over [B, L, h·D] (ViT's and BERT's layout after the projections). */
function mha(B: number, L: number, h: number, D: number): SpecialCase['build'] {
  return () => layerCase((g) => {
    for (const n of ['q', 'k', 'v']) g.input(n, 'float32', [B, L, h * D]);
    g.output(g.op('MultiHeadAttention', ['q', 'k', 'v'], { num_heads: h }, { domain: 'com.microsoft' }), 'float32');
  }, CONTRIB);
}

export const cases: SpecialCase[] = [
  { group: 'attention', name: 'ViT-B/16 self-attention: 12 heads, 197 tokens, d=64', build: mha(1, 197, 12, 64), baseline: 'unfused' },
  { group: 'attention', name: 'MultiHeadAttention: 4 heads, 512 tokens, d=64', build: mha(1, 512, 4, 64), baseline: 'unfused' },
];
