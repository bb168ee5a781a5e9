/**
 * Model-level measurements kept in the store and reused as the layer benchmarks are (table
 * model_run, migration 11): the model run end to end on dlprof's kernels with its output check, the
 * f16 what-if re-run, and onnxruntime's WebGPU framework run with its profile. Each is stored under
 * the identity of what it measured, so that nothing stale is reused:
 *
 *  - the machine (the session's);
 *  - the model as analyzed (modelIdentity);
 *  - the kind, and the code that ran: the code identity of each layer's kernel variant (codeIdentity),
 *    or onnxruntime's version and execution provider;
 *  - the layers' timing conditions, where the measurement depends on them;
 *  - the settings it was measured with (--runs, --run-budget-ms, the output check's reference), and
 *    always dlprof's version and the payload's format (MODEL_RUN_FORMAT): the code around the
 *    kernels (the model runner, the tolerances) has no hash of its own, and the machine's identity
 *    leaves dlprof's version out (db.ts fingerprintId).
 *
 * What a payload holds is the analysis's business (analysis/stored-runs.ts); here it is JSON.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { layerCase, type VariantChooser } from '../bench/model.js';
import { ortVersion } from '../bench/ort.js';
import type { ModelGraph } from '../ir/graph.js';
import { kernelFor } from '../kernels/registry.js';
import { isExternal } from '../onnx/tensor.js';
import type { ModelRunIdentity } from './db.js';
import { variantCode, type Session } from './session.js';

export const MODEL_RUN_KINDS = ['end-to-end', 'f16-what-if', 'framework'] as const;
export type ModelRunKind = (typeof MODEL_RUN_KINDS)[number];

/** Bumped whenever a stored payload's shape changes: payloads of another format are not reused. */
export const MODEL_RUN_FORMAT = 1;

/** What a model-level measurement is a measurement of (the machine aside: the session's). */
export interface ModelRunKey {
  kind: ModelRunKind;
  /** modelIdentity. */
  model: string;
  /** codeIdentity, or onnxruntime's version and provider. */
  code: string;
  /** The layers' timing conditions where the measurement depends on them, else ''. */
  conditions: string;
  settings: Record<string, string | number | boolean | null>;
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * The identity of the model as analyzed: a SHA-256 over
 *
 *  - the file's bytes, and the bytes of each external-data weight the layers read: onnxruntime
 *    runs the file itself (the output check's reference, the framework baseline), and the output
 *    check depends on the weights' values, which the layer keys (shapes, attributes) leave out;
 *  - the IR dlprof runs: each node's layer key and wiring (its input and output tensors), and the
 *    inputs as bound (--dim, --shape, --value, --defaults: their shapes and fed values) and the
 *    outputs: the same file bound otherwise, or read into other layers by another dlprof, is
 *    another model.
 *
 * The file alone would miss the bindings and dlprof's reading of it; the IR alone would miss the
 * weights. Hashing costs little beside what it saves (ResNet-50's 98 MiB: about 0.1 s).
 */
export function modelIdentity(g: Pick<ModelGraph, 'path' | 'constTensors' | 'external' | 'inputs' | 'outputs' | 'nodes'>): string {
  const h = createHash('sha256');
  h.update(fs.readFileSync(g.path));
  const external = [...g.constTensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flatMap(([name, info]) => {
    const w = info.weight;
    const protos = w ? [w.proto, w.sparse?.values, w.sparse?.indices].filter((t, i, all) => !!t && isExternal(t) && all.indexOf(t) === i) : [];
    return protos.map((t, i) => {
      const bytes = g.external(t!);
      return [name, i, bytes ? sha256(bytes) : null];
    });
  });
  h.update(JSON.stringify({ external, inputs: g.inputs, outputs: g.outputs, nodes: g.nodes.map((n) => [n.key, n.inputs, n.outputs]) }));
  return h.digest('hex');
}

/**
 * The identity of the kernel code a run of `g` uses: each distinct layer's variant as `choose`
 * picks it and the hash of that variant's code there (session.ts variantCode: specialize.ts
 * planHash). A kernel changed since a stored run makes that run one of other code: measured again.
 */
export function codeIdentity(s: Pick<Session, 'runner'>, g: ModelGraph, choose: VariantChooser): string {
  const parts = [...g.layers.keys()].sort().map((key) => {
    const c = layerCase(g, key);
    const kernel = kernelFor(c.layer.op);
    const variant = kernel ? choose(c, kernel) : null;
    return [key, variant, kernel && variant !== null ? variantCode(kernel, c, variant, s) : null];
  });
  return sha256(JSON.stringify(parts));
}

/** onnxruntime as the code of a run: onnxruntime-node's version and the execution provider. */
export function onnxruntimeIdentity(provider: string): string {
  return `onnxruntime-node ${ortVersion()} ${provider}`;
}

/** The key as the store indexes it: the settings as canonical JSON (keys sorted), with dlprof's version and the payload format. */
function identity(s: Pick<Session, 'machineId' | 'fp'>, key: ModelRunKey): ModelRunIdentity {
  const settings = { ...key.settings, dlprof: s.fp.dlprofVersion, format: MODEL_RUN_FORMAT };
  const canonical = JSON.stringify(Object.fromEntries(Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : 1))));
  return { machineId: s.machineId, modelHash: key.model, kind: key.kind, codeHash: key.code, conditions: key.conditions, settings: canonical };
}

/** The newest stored measurement of exactly `key` on this machine, and when it was taken; undefined if none (or unreadable). */
export function storedModelRun<T>(s: Pick<Session, 'store' | 'machineId' | 'fp'>, key: ModelRunKey): { payload: T; measuredAt: string } | undefined {
  const row = s.store.latestModelRun(identity(s, key));
  if (!row) return undefined;
  try {
    return { payload: JSON.parse(row.payload) as T, measuredAt: row.createdAt };
  } catch {
    // A payload that does not parse is no measurement: measured again, and the new one is newest.
    return undefined;
  }
}

/** Stores a measurement of `key` (committed when this returns); returns when it was stored. */
export function storeModelRun<T>(s: Pick<Session, 'store' | 'machineId' | 'fp'>, key: ModelRunKey, payload: T): string {
  return s.store.saveModelRun(identity(s, key), JSON.stringify(payload));
}
