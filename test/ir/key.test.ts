import { describe, expect, it } from 'vitest';
import { canonicalJson, layerKey } from '../../src/ir/key.js';
import { processBuilt } from '../support/models.js';

const conv = (explicit: boolean, stride = 1) => processBuilt((g) => {
  const x = g.input('x', 'float32', [1, 8, 16, 16]);
  const w = g.init('w', 'float32', [8, 8, 3, 3]);
  const attrs = explicit
    ? { kernel_shape: [3, 3], strides: [stride, stride], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 }
    : { pads: [1, 1, 1, 1], ...(stride !== 1 ? { strides: [stride, stride] } : {}) };
  g.op('Conv', [x, w], attrs, { output: 'y' });
  g.output('y');
});

describe('canonical layer keys', () => {
  it('are equal for a Conv with and without explicit default attributes', () => {
    const a = conv(true);
    const b = conv(false);
    expect(a.nodes).toHaveLength(1);
    expect(a.nodes[0].key).toBe(b.nodes[0].key);
    expect(a.layers.get(a.nodes[0].key)!.attrs).toEqual(b.layers.get(b.nodes[0].key)!.attrs);
  });

  it('differ when an attribute that changes the computation differs', () => {
    expect(conv(false, 1).nodes[0].key).not.toBe(conv(false, 2).nodes[0].key);
  });

  it('are equal for SAME_UPPER padding and the equivalent explicit pads', () => {
    const build = (auto: boolean) => processBuilt((g) => {
      const x = g.input('x', 'float32', [1, 4, 9, 9]);
      const w = g.init('w', 'float32', [4, 4, 3, 3]);
      g.op('Conv', [x, w], auto ? { auto_pad: 'SAME_UPPER' } : { pads: [1, 1, 1, 1] }, { output: 'y' });
      g.output('y');
    });
    expect(build(true).nodes[0].key).toBe(build(false).nodes[0].key);
  });

  it('differ by input shape and dtype', () => {
    const t = (dtype: 'float32' | 'float16', n: number) => ({ dtype, shape: [n, 4] });
    const k = (a: ReturnType<typeof t>) => layerKey('Relu', {}, [a], [a], []);
    expect(k(t('float32', 2))).not.toBe(k(t('float32', 3)));
    expect(k(t('float32', 2))).not.toBe(k(t('float16', 2)));
    expect(k(t('float32', 2))).toBe(k(t('float32', 2)));
  });

  it('do not depend on attribute order or node names', () => {
    expect(canonicalJson({ b: 1, a: [1, 2] })).toBe(canonicalJson({ a: [1, 2], b: 1 }));
    const named = (name: string) => processBuilt((g) => {
      const x = g.input('x', 'float32', [2, 3]);
      g.op('Relu', [x], {}, { name, output: 'y' });
      g.output('y');
    });
    expect(named('first').nodes[0].key).toBe(named('second').nodes[0].key);
  });

  it('separate a mostly-zero weight from a dense one of the same shape', () => {
    const mm = (zeros: boolean) => processBuilt((g) => {
      const x = g.input('x', 'float32', [4, 64]);
      const data = Float32Array.from({ length: 64 * 64 }, (_, i) => (zeros && i % 20 !== 0 ? 0 : 0.5));
      const w = g.init('w', 'float32', [64, 64], data);
      g.op('MatMul', [x, w], {}, { output: 'y' });
      g.output('y');
    });
    const dense = mm(false);
    const sparse = mm(true);
    expect(sparse.layers.get(sparse.nodes[0].key)!.weights[0].sparsity).toBeCloseTo(0.95, 2);
    expect(dense.nodes[0].key).not.toBe(sparse.nodes[0].key);
  });
});
