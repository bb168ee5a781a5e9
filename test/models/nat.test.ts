/**
 * The NAT/DiNAT model builder: the tiny config goes through the model processor with its
 * neighborhood-attention layers de-duplicated, shaped and costed as expected, and one of them
 * runs on the device against the reference; NAT-Mini has the paper's ~20M parameters.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNAT, NAT_MINI, NAT_TINY } from '../../models/nat.js';
import { toBytes } from '../../models/common.js';
import { loadGraph } from '../../src/kernels/model.js';
import { checkCase, releaseGpu } from '../support/kernels.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-nat-'));
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await releaseGpu();
});

function processTiny() {
  const file = path.join(dir, 'nat-tiny.onnx');
  const bytes = toBytes(buildNAT(NAT_TINY, 'nat-tiny'));
  fs.writeFileSync(file, bytes);
  return { bytes, g: loadGraph(file, { dims: new Map([['batch', 1]]), shapes: new Map() }) };
}

describe('NAT', () => {
  it('the tiny model processes fully, with DiNAT-style neighborhood-attention layers', () => {
    const { bytes, g } = processTiny();
    expect(bytes.length).toBeLessThan(1 << 20);
    expect(g.unsupported).toEqual([]);
    expect(g.failed).toEqual([]);
    expect(g.outputs).toEqual([{ name: 'output', dtype: 'float32', shape: [1, 10] }]);
    expect(g.opsets.dlprof).toBe(1);

    const naNodes = g.nodes.filter((n) => n.op === 'dlprof.NeighborhoodAttention');
    expect(naNodes).toHaveLength(4);
    // Stage 1 (8×8 tokens, 2 heads of 16/2 = 8): dilation 1 then ⌊8/3⌋ = 2; stage 2 (4×4 tokens,
    // 4 heads): dilation 1 twice, one unique layer.
    const layers = naNodes.map((n) => g.layers.get(n.key)!);
    expect(layers.map((l) => l.attrs.dilation)).toEqual([[1, 1], [2, 2], [1, 1], [1, 1]]);
    expect(new Set(naNodes.map((n) => n.key)).size).toBe(3);
    expect(layers.map((l) => l.inputs.map((t) => t?.shape))).toEqual([
      [[1, 2, 8, 8, 8], [1, 2, 8, 8, 8], [1, 2, 8, 8, 8], [2, 5, 5]],
      [[1, 2, 8, 8, 8], [1, 2, 8, 8, 8], [1, 2, 8, 8, 8], [2, 5, 5]],
      [[1, 4, 4, 4, 8], [1, 4, 4, 4, 8], [1, 4, 4, 4, 8], [4, 5, 5]],
      [[1, 4, 4, 4, 8], [1, 4, 4, 4, 8], [1, 4, 4, 4, 8], [4, 5, 5]],
    ]);
    for (const l of layers) {
      expect(l.outputs[0].shape).toEqual(l.inputs[0]!.shape);
      expect(l.attrs).toMatchObject({ kernel_size: [3, 3], is_causal: [0, 0] });
      expect(l.attrs.scale).toBeCloseTo(1 / Math.sqrt(8), 6);
      // heads · tokens · 9 keys · (2·8 + 2·8 + 6)
      const [, h, H, W] = l.inputs[0]!.shape;
      expect(l.flops).toBe(h * H * W * 9 * 38);
    }
    // Each NA layer is fed by a Gather of the permuted qkv projection and feeds a Transpose back.
    for (const n of naNodes) {
      expect(n.deps.map((d) => g.nodes[d].op)).toEqual(['Gather', 'Gather', 'Gather']);
    }
    const ops = new Set(g.nodes.map((n) => n.op));
    for (const op of ['Conv', 'LayerNormalization', 'MatMul', 'Erf', 'ReduceMean', 'Gemm']) expect(ops.has(op), op).toBe(true);
  });

  it('the dilated tiny layer runs on the device: every variant agrees with the reference', async () => {
    const { g } = processTiny();
    const node = g.nodes.filter((n) => n.op === 'dlprof.NeighborhoodAttention')[1];
    const layer = g.layers.get(node.key)!;
    const checks = await checkCase({ layer, consts: g.origins.get(layer.key)!.constValues });
    expect(checks.filter((r) => r.supported).map((r) => r.variant)).toEqual(['naive', 'gemm', 'fused', 'fused-tiled', 'gemm-f16', 'fused-f16', 'fused-tiled-f16']);
    for (const r of checks) expect(r.agreement?.ok, `${r.variant}: ${JSON.stringify(r.agreement)}`).toBe(true);
  });

  it('NAT-Mini has the paper\'s ~20M parameters and its stage layout', () => {
    const m = buildNAT(NAT_MINI, 'nat-mini');
    let params = 0;
    for (const t of m.graph.initializers) if (t.dataType === 1) params += (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1);
    // Hassani et al. 2023, Table 1: NAT-Mini 20M. Float initializers here are the weights (the
    // shape constants are Constant nodes), relative-position biases included.
    expect(params).toBe(19_984_174);
    const na = m.graph.nodes.filter((n) => n.opType === 'NeighborhoodAttention');
    expect(na).toHaveLength(3 + 4 + 6 + 5);
    expect(na.every((n) => n.domain === 'dlprof')).toBe(true);
  });
});
