/**
 * The misc kernels (DepthToSpace, SpaceToDepth, Trilu, CumSum, Hardmax, LRN, QuantizeLinear,
 * DequantizeLinear, LpNormalization): a few small cases each against the reference, and ONNX's
 * conformance cases.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareOutputs } from '../../src/bench/verify.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { onnx } from '../../src/onnx/proto.js';
import { decodeTensor, tensorDims, tensorDtype } from '../../src/onnx/tensor.js';
import { CONFORMANCE_DIR } from '../support/conformance.js';
import type { DType } from '../../src/onnx/dtype.js';
import type { HostTensor, LayerCase } from '../../src/kernels/types.js';
import type { AttrInput } from '../../src/onnx/write.js';
import { agree, casesFrom, checkCase, releaseGpu } from '../support/kernels.js';
import { conformanceCasesFor, printTally, runConformanceCase, tallyConformance } from '../support/conformance-kernels.js';

afterAll(releaseGpu);

function one(op: string, shape: number[], attrs: Record<string, AttrInput> = {}, extra: (g: Parameters<Parameters<typeof casesFrom>[0]>[0]) => string[] = () => [], dtype: DType = 'float32', outDtype: DType = dtype): LayerCase {
  return casesFrom((g) => {
    g.input('x', dtype, shape);
    g.output(g.op(op, ['x', ...extra(g)], attrs), outDtype);
  })[0];
}

async function ok(c: LayerCase): Promise<void> {
  const r = await checkCase(c);
  expect(r.map((v) => v.supported)).toEqual([true]);
  expect(r[0].agreement?.ok, `${c.layer.op} ${JSON.stringify(c.layer.attrs)} ${JSON.stringify(r[0].agreement)}`).toBe(true);
}

describe('misc kernels', () => {
  it('DepthToSpace (DCR, CRD) and SpaceToDepth', async () => {
    await ok(one('DepthToSpace', [1, 8, 2, 3], { blocksize: 2, mode: 'DCR' }));
    await ok(one('DepthToSpace', [2, 8, 3, 2], { blocksize: 2, mode: 'CRD' }));
    await ok(one('SpaceToDepth', [1, 3, 4, 6], { blocksize: 2 }, () => [], 'int64'));
  });
  it('Trilu (upper/lower, k) and CumSum (axis, exclusive, reverse)', async () => {
    await ok(one('Trilu', [2, 3, 5], { upper: 1 }, (g) => [g.ints('k', [1], [])]));
    await ok(one('Trilu', [4, 3], { upper: 0 }, (g) => [g.ints('k', [-1], [])]));
    await ok(one('CumSum', [3, 4, 5], { exclusive: 1, reverse: 1 }, (g) => [g.ints('a', [1], [])]));
    await ok(one('CumSum', [3, 4], {}, (g) => [g.ints('a', [-1], [])], 'int32'));
  });
  it('Hardmax, LRN and LpNormalization', async () => {
    await ok(one('Hardmax', [3, 4, 5], { axis: 1 }));
    const coerced = casesFrom((g) => {
      g.input('x', 'float32', [2, 3, 4]);
      g.output(g.op('Hardmax', ['x'], { axis: 1 }), 'float32');
    }, { '': 11 })[0];
    expect(coerced.layer.attrs.coerce_2d).toBe(1);
    await ok(coerced);
    await ok(one('LRN', [2, 5, 3, 2], { size: 3, alpha: 0.01, beta: 0.75, bias: 2 }));
    await ok(one('LpNormalization', [3, 4, 5], { axis: 1, p: 1 }));
    await ok(one('LpNormalization', [4, 6], { axis: -1, p: 2 }));
  });
  it('QuantizeLinear (uint8, int8, per-axis) and DequantizeLinear', async () => {
    const q = (xd: DType, shape: number[], sShape: number[], zd: DType, op: string, od: DType, axis = 1) => casesFrom((g) => {
      g.input('x', xd, shape);
      g.input('s', 'float32', sShape);
      g.input('z', zd, sShape);
      g.output(g.op(op, ['x', 's', 'z'], { axis }), od);
    })[0];
    const f = (shape: number[], v: number[]): HostTensor => ({ dtype: 'float32', shape, data: Float32Array.from(v) });
    // Ties (0.5, 1.5, 2.5, -0.5, -2.5) round to even; ±1000 saturates.
    const xs = [0, 1, 3, 5, -1, -5, 2000, -2000, 0.2, 7];
    let c = q('float32', [10], [], 'uint8', 'QuantizeLinear', 'uint8');
    expect(await agree(c, [f([10], xs), f([], [2]), { dtype: 'uint8', shape: [], data: Uint8Array.from([3]) }])).toEqual(['naive']);
    c = q('float32', [10], [], 'int8', 'QuantizeLinear', 'int8');
    expect(await agree(c, [f([10], xs), f([], [2]), { dtype: 'int8', shape: [], data: Int32Array.from([-1]) }])).toEqual(['naive']);
    c = q('float32', [2, 3], [3], 'int8', 'QuantizeLinear', 'int8');
    expect(await agree(c, [f([2, 3], [1, 2, 3, -4, 5, -6]), f([3], [1, 2, 4]), { dtype: 'int8', shape: [3], data: Int32Array.from([0, 1, -2]) }])).toEqual(['naive']);
    c = q('int8', [2, 3], [3], 'int8', 'DequantizeLinear', 'float32');
    expect(await agree(c, [{ dtype: 'int8', shape: [2, 3], data: Int32Array.from([-128, 0, 127, 5, -5, 1]) }, f([3], [0.5, 2, 0.25]),
      { dtype: 'int8', shape: [3], data: Int32Array.from([0, 1, -2]) }])).toEqual(['naive']);
  });
});

function readPb(file: string): HostTensor {
  const t = onnx.TensorProto.decode(fs.readFileSync(file));
  const dtype = tensorDtype(t)!;
  const nums = decodeTensor(t, undefined, 1 << 24)!.data as number[];
  return { dtype, shape: tensorDims(t), data: dtype.startsWith('float') ? Float32Array.from(nums) : Int32Array.from(nums) };
}

/**
 * Trilu and CumSum conformance cases the shared runner cannot run (their data is int64, made a
 * constant and folded, or float64, which has no GPU type): the model is rebuilt with the same
 * attributes, data as a model input (float64 as float32) and the second input a constant; the
 * reference is checked against the expected output and the kernel against the reference.
 */
async function rebuiltCase(name: string): Promise<void> {
  const dir = path.join(CONFORMANCE_DIR, name);
  const node = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx'))).graph!.node![0];
  const data = path.join(dir, 'test_data_set_0');
  const x = readPb(path.join(data, 'input_0.pb'));
  if (x.dtype === 'float64') x.dtype = 'float32';
  const second = fs.existsSync(path.join(data, 'input_1.pb')) ? readPb(path.join(data, 'input_1.pb')) : null;
  const attrs = Object.fromEntries((node.attribute ?? []).map((a) => [a.name ?? '', Number(a.i)]));
  const c = casesFrom((g) => {
    g.input('x', x.dtype, x.shape);
    const ins = ['x', ...(second ? [g.ints('k', [...second.data], second.shape)] : [])];
    g.output(g.op(node.opType!, ins, attrs), x.dtype);
  })[0];
  const inputs = [x, second];
  const want = readPb(path.join(data, 'output_0.pb'));
  if (want.dtype === 'float64') want.dtype = 'float32';
  const ref = compareOutputs(kernelFor(c.layer.op)!.reference(c, inputs), [want]);
  expect(ref.ok, `${name} reference: ${JSON.stringify(ref.worst)}`).toBe(true);
  expect(await agree(c, inputs), name).toEqual(['naive']);
}

describe('misc ONNX conformance', () => {
  it('Trilu and CumSum, rebuilt', async () => {
    const names = conformanceCasesFor(['Trilu', 'CumSum']);
    for (const name of names) await rebuiltCase(name);
    expect(names.length).toBe(25);
  }, 120_000);

  // Skipped here (reasons printed): the Trilu cases (int64 data made a constant and folded) and the
  // CumSum cases (float64 data), run above instead.
  it('every supported case passes', async () => {
    const ops = ['DepthToSpace', 'SpaceToDepth', 'Trilu', 'CumSum', 'Hardmax', 'LRN', 'QuantizeLinear', 'DequantizeLinear', 'LpNormalization'];
    const t = await tallyConformance(conformanceCasesFor(ops), runConformanceCase);
    printTally('misc', t);
    expect(t.failed).toEqual([]);
    expect(t.passed).toBe(19);
  }, 120_000);
});
