/**
 * Runs ONNX's own node conformance tests (Debian package libonnx-testdata) through dlprof's
 * loader and shape inference: for every test, each graph output's inferred dtype and shape must
 * equal those of the expected `output_*.pb`; where inference folded an output to a constant, its
 * values must match too.
 *
 * Inputs that carry shape information (integer tensors, and float vectors of ≤ 8 elements such as
 * Resize scales) are given their test values, as a real model has them as constants; data inputs
 * keep only their declared shapes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fromProto } from '../../src/onnx/load.js';
import { decodeModel, onnx } from '../../src/onnx/proto.js';
import { decodeTensor, tensorDims, tensorDtype } from '../../src/onnx/tensor.js';
import { inferModel } from '../../src/onnx/shapes/engine.js';
import { lookupOp } from '../../src/onnx/shapes/registry.js';
import { normalizeDomain } from '../../src/onnx/load.js';

export const CONFORMANCE_DIR = process.env.ONNX_TESTDATA_DIR ?? '/usr/share/libonnx-testdata/data/node';

export interface CaseResult {
  name: string;
  ops: string[];
  status: 'pass' | 'fail' | 'skip';
  reason?: string;
}

export function listCases(): string[] {
  if (!fs.existsSync(CONFORMANCE_DIR)) return [];
  return fs.readdirSync(CONFORMANCE_DIR).filter((d) => fs.existsSync(path.join(CONFORMANCE_DIR, d, 'model.onnx'))).sort();
}

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  return Math.abs(a - b) <= 1e-4 + 1e-3 * Math.abs(b);
}

export function runCase(name: string): CaseResult {
  const dir = path.join(CONFORMANCE_DIR, name);
  const file = path.join(dir, 'model.onnx');
  const proto = decodeModel(fs.readFileSync(file));
  const g = proto.graph!;
  const ops = [...new Set((g.node ?? []).map((n) => `${normalizeDomain(n.domain) ? `${normalizeDomain(n.domain)}.` : ''}${n.opType}`))];
  const res = (status: CaseResult['status'], reason?: string): CaseResult => ({ name, ops, status, reason });
  const unsupported = (g.node ?? []).filter((n) => !lookupOp(normalizeDomain(n.domain), n.opType ?? '')
    && !(proto.functions ?? []).some((f) => f.name === n.opType));
  if (unsupported.length) return res('skip', `unsupported op ${unsupported.map((n) => n.opType).join(', ')}`);
  for (const o of g.output ?? []) {
    if (!o.type?.tensorType) return res('skip', 'non-tensor output (sequence/optional/map)');
  }
  for (const i of g.input ?? []) {
    if (!i.type?.tensorType) return res('skip', 'non-tensor input (sequence/optional/map)');
  }
  const dataDir = path.join(dir, 'test_data_set_0');
  if (!fs.existsSync(dataDir)) return res('skip', 'no test data');
  const inputs = (g.input ?? []).map((_, i) => path.join(dataDir, `input_${i}.pb`));
  for (const [i, p] of inputs.entries()) {
    if (!fs.existsSync(p)) continue; // an omitted optional input
    const t = onnx.TensorProto.decode(fs.readFileSync(p));
    const dtype = tensorDtype(t);
    const n = tensorDims(t).reduce((a, b) => a * b, 1);
    const shapeLike = dtype === 'int64' || dtype === 'int32' || (n <= 8 && tensorDims(t).length <= 1);
    const vi = g.input![i];
    if (shapeLike) {
      t.name = vi.name ?? '';
      g.initializer = [...(g.initializer ?? []), t];
    } else {
      // Inputs in these tests may lack a shape; the test data is then the truth.
      const tt = vi.type!.tensorType!;
      tt.shape = { dim: tensorDims(t).map((d) => ({ dimValue: d })) };
    }
  }
  let result;
  try {
    const model = fromProto(proto, file, fs.statSync(file).size);
    result = inferModel(model, { dims: new Map(), shapes: new Map() });
  } catch (e) {
    return res('fail', `error: ${(e as Error).message}`);
  }
  const bad = result.nodes.filter((n) => n.kind === 'failed' || n.kind === 'unsupported');
  for (const [i, out] of result.outputs.entries()) {
    const p = path.join(dataDir, `output_${i}.pb`);
    if (!fs.existsSync(p)) continue;
    const exp = onnx.TensorProto.decode(fs.readFileSync(p));
    const expDims = tensorDims(exp);
    let expType = tensorDtype(exp);
    // ONNX 1.12's test data stores bfloat16 expectations as uint16 bit patterns.
    const bf16AsU16 = expType === 'uint16' && out.info.dtype === 'bfloat16';
    if (bf16AsU16) expType = 'bfloat16';
    const got = out.info;
    const why = bad.length ? ` (${bad.map((b) => `${b.op}: ${b.reason}`).join('; ')})` : '';
    if (got.dtype !== expType) return res('fail', `output ${i} dtype ${got.dtype} != expected ${expType}${why}`);
    if (got.shape?.some((d) => typeof d === 'string') && bad.some((b) => b.reason?.includes('depends on data'))) {
      // NonZero, Unique, NonMaxSuppression…: sizes exist only at run time; a symbol is the right answer.
      return res('skip', 'output size depends on the data (inferred as a symbolic dimension)');
    }
    if (!got.shape || got.shape.length !== expDims.length || got.shape.some((d, k) => d !== expDims[k])) {
      return res('fail', `output ${i} shape [${got.shape?.join(',') ?? '?'}] != expected [${expDims.join(',')}]${why}`);
    }
    if (got.value && expType !== 'string' && !bf16AsU16) {
      const ev = decodeTensor(exp, undefined, 1 << 20);
      if (ev && (ev.data as number[]).some((x, k) => !close((got.value!.data as number[])[k], x))) {
        return res('fail', `output ${i} folded value [${(got.value.data as number[]).slice(0, 8).join(',')}…] != expected [${(ev.data as number[]).slice(0, 8).join(',')}…]`);
      }
    }
  }
  return res('pass');
}

export function runAll(filter?: (name: string) => boolean): CaseResult[] {
  return listCases().filter((n) => !filter || filter(n)).map(runCase);
}

/** Pass/total per op (ops of skipped cases excluded). */
export function perOp(results: CaseResult[]): Map<string, { pass: number; total: number }> {
  const m = new Map<string, { pass: number; total: number }>();
  for (const r of results) {
    if (r.status === 'skip') continue;
    for (const op of r.ops) {
      const e = m.get(op) ?? { pass: 0, total: 0 };
      e.total++;
      if (r.status === 'pass') e.pass++;
      m.set(op, e);
    }
  }
  return m;
}
