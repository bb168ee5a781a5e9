/**
 * What `bench` and `analyze` measure: layer cases from ONNX models (processed and de-duplicated)
 * or from an emitted micro-benchmark suite directory (index.json + layer specs).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bindings } from '../onnx/shapes/engine.js';
import { dedupe } from '../ir/dedupe.js';
import type { ModelGraph } from '../ir/graph.js';
import { KEY_VERSION } from '../ir/key.js';
import { loadGraph } from '../kernels/model.js';
import type { Layer } from '../ir/types.js';
import type { LayerCase } from '../kernels/types.js';
import type { ConstValue } from '../onnx/tensor.js';
import { DlprofError, EXIT } from '../util/errors.js';

export interface Workload {
  cases: LayerCase[];
  /** Occurrences of each layer key over all models (how much its time matters). */
  counts: Map<string, number>;
  graphs: ModelGraph[];
  suites: string[];
}

interface SpecFile extends Layer {
  keyVersion: number;
  constValues?: Array<ConstValue | null>;
  sources?: Array<{ count: number }>;
}

function loadSuite(dir: string): { cases: LayerCase[]; counts: Map<string, number> } {
  const indexFile = path.join(dir, 'index.json');
  if (!fs.existsSync(indexFile)) {
    throw new DlprofError(`${dir}: a directory, but not a micro-benchmark suite (no index.json)`, 'E_NOT_A_SUITE', EXIT.input,
      ["Write one with 'dlprof layers MODEL --emit DIR', or pass .onnx files."]);
  }
  let index: { keyVersion?: number; layers?: Array<{ key: string; spec: string }> };
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw new DlprofError(`${indexFile}: not valid JSON (${(e as Error).message})`, 'E_BAD_SUITE', EXIT.input);
  }
  if (index.keyVersion !== KEY_VERSION) {
    throw new DlprofError(`${indexFile}: suite written with layer-key version ${index.keyVersion}; this dlprof uses ${KEY_VERSION}`, 'E_SUITE_VERSION', EXIT.input,
      ['Regenerate the suite with this dlprof (dlprof layers … --emit, or npm run microbench).']);
  }
  const cases: LayerCase[] = [];
  const counts = new Map<string, number>();
  for (const entry of index.layers ?? []) {
    const file = path.join(dir, entry.spec);
    let spec: SpecFile;
    try {
      spec = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new DlprofError(`${file}: unreadable layer spec (${(e as Error).message})`, 'E_BAD_SUITE', EXIT.input);
    }
    const layer: Layer = { key: spec.key, op: spec.op, attrs: spec.attrs, inputs: spec.inputs, outputs: spec.outputs, weights: spec.weights ?? [],
      flops: spec.flops, bytes: spec.bytes, params: spec.params };
    cases.push({ layer, consts: spec.constValues ?? layer.inputs.map(() => null) });
    counts.set(spec.key, (spec.sources ?? []).reduce((s, x) => s + x.count, 0) || 1);
  }
  return { cases, counts };
}

/** Models (.onnx) and suite directories → the unique layer cases to measure. */
export function loadWorkload(paths: string[], bindings: Bindings, onModel?: (p: string, i: number, n: number) => void): Workload {
  const graphs: ModelGraph[] = [];
  const suites: string[] = [];
  const byKey = new Map<string, LayerCase>();
  const counts = new Map<string, number>();
  paths.forEach((p, i) => {
    onModel?.(p, i, paths.length);
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) {
      const s = loadSuite(p);
      suites.push(p);
      for (const c of s.cases) if (!byKey.has(c.layer.key)) byKey.set(c.layer.key, c);
      for (const [k, n] of s.counts) counts.set(k, (counts.get(k) ?? 0) + n);
    } else {
      graphs.push(loadGraph(p, bindings));
    }
  });
  for (const u of dedupe(graphs)) {
    const g = graphs[u.counts.findIndex((c) => c > 0)];
    const o = g.origins.get(u.layer.key)!;
    if (!byKey.has(u.layer.key)) byKey.set(u.layer.key, { layer: u.layer, consts: o.constValues, origin: { domain: o.domain, opType: o.opType, opset: o.opset, attributes: o.attributes } });
    counts.set(u.layer.key, (counts.get(u.layer.key) ?? 0) + u.counts.reduce((a, b) => a + b, 0));
  }
  return { cases: [...byKey.values()], counts, graphs, suites };
}
