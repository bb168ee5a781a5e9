/**
 * What a kernel variant's outputs are checked against, computed by a library where one can: every
 * layer from a standard ONNX node runs as that one node on onnxruntime's CPU execution provider,
 * and a fused layer dlprof makes runs as its composition of standard nodes (Kernel.decompose).
 * dlprof's own CPU references remain for ops onnxruntime cannot run (its own domain, mmcv's), for
 * generators whose reference is their own code (Kernel.libraryReference), and as the fallback when
 * onnxruntime refuses a layer. A CPU loop in JavaScript spends 35–55 ns a multiply-add; onnxruntime
 * runs the same convolution through its own tuned kernels in a fraction of that.
 */
import ort from 'onnxruntime-node';
import type { HostTensor, Kernel, LayerCase } from '../kernels/types.js';
import { GraphBuilder } from '../onnx/write.js';
import { nodeModel } from '../suite/emit.js';
import { fromOrt, toOrt } from './ort.js';

/** Where a reference came from: onnxruntime (a named execution provider) or dlprof's CPU code. */
export type ReferenceSource = 'onnxruntime-cpu' | 'dlprof-cpu';

export interface Reference {
  outputs: HostTensor[];
  source: ReferenceSource;
  /** Why the library could not be used, when it was meant to be. */
  fallback?: string;
}

const STANDARD_DOMAINS = new Set(['', 'ai.onnx', 'com.microsoft']);
const OPSET = 17;

const inputName = (i: number): string => `input_${i}`;
const outputName = (i: number): string => `output_${i}`;

/**
 * The layer as an ONNX model onnxruntime can run, whose graph inputs are the layer's inputs
 * (`input_i`, constant ones embedded as initializers) and whose outputs are `output_i`; null when
 * there is none (a dlprof op without a decomposition).
 */
export function referenceModel(c: LayerCase, kernel: Kernel): Uint8Array | null {
  if (kernel.libraryReference === false) return null;
  const l = c.layer;
  if (c.origin && STANDARD_DOMAINS.has(c.origin.domain)) return nodeModel({ ...c, origin: c.origin });
  if (!kernel.decompose) return null;
  const b = new GraphBuilder(`${l.op}_${l.key}`);
  const names = l.inputs.map((t, i) => (t ? b.input(inputName(i), t.dtype, t.shape) : ''));
  const outs = kernel.decompose(c, b, names);
  // The decomposition's last nodes write the layer's outputs under their graph names.
  outs.forEach((name, i) => { b.op('Identity', [name], {}, { output: outputName(i) }); b.output(outputName(i), l.outputs[i].dtype, l.outputs[i].shape); });
  return b.toBytes({ '': OPSET });
}

/** Runs `model` on onnxruntime's CPU execution provider with the layer's inputs. */
async function runOnOrt(model: Uint8Array, c: LayerCase, inputs: Array<HostTensor | null>): Promise<HostTensor[]> {
  const s = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'basic' });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    inputs.forEach((t, i) => { if (t && s.inputNames.includes(inputName(i))) feeds[inputName(i)] = toOrt(t); });
    const out = await s.run(feeds);
    return c.layer.outputs.map((t, i) => {
      const r = out[outputName(i)];
      if (!r) throw new Error(`onnxruntime gave no output ${i}`);
      return { ...fromOrt(r), dtype: t.dtype };
    });
  } finally {
    await s.release();
  }
}

/** The reference outputs of a layer for `inputs` (see the module comment for which reference). */
export async function referenceOutputs(c: LayerCase, kernel: Kernel, inputs: Array<HostTensor | null>): Promise<Reference> {
  const model = referenceModel(c, kernel);
  if (model) {
    try {
      return { outputs: await runOnOrt(model, c, inputs), source: 'onnxruntime-cpu' };
    } catch (e) {
      return { outputs: kernel.reference(c, inputs), source: 'dlprof-cpu', fallback: (e as Error).message.split('\n')[0] };
    }
  }
  return { outputs: kernel.reference(c, inputs), source: 'dlprof-cpu' };
}
