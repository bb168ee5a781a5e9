/**
 * The one table from (domain, op type) to shape inference. Op families live in `ops/*.ts`, each
 * exporting a record of OpSpecs keyed by op type for the default ONNX domain, or by
 * `domain:OpType` for any other (e.g. `com.microsoft:Attention`). Adding an op is an entry there
 * (plus, for GPU ops, a kernel with its cost: docs/architecture.md, Adding an op).
 */
import type { OpSpec } from './types.js';
import { elementwiseOps } from './ops/elementwise.js';
import { nnOps } from './ops/nn.js';
import { tensorOps } from './ops/tensor.js';
import { reduceOps } from './ops/reduce.js';
import { controlFlowOps } from './ops/controlflow.js';
import { miscOps } from './ops/misc.js';
import { contribOps } from './ops/contrib.js';
import { nattenOps } from './ops/natten.js';

const FAMILIES: Array<Record<string, OpSpec>> = [elementwiseOps, nnOps, tensorOps, reduceOps, controlFlowOps, miscOps, contribOps, nattenOps];

const TABLE = new Map<string, OpSpec>();
for (const family of FAMILIES) {
  for (const [key, spec] of Object.entries(family)) {
    if (TABLE.has(key)) throw new Error(`op ${key} is registered twice`);
    TABLE.set(key, spec);
  }
}

export function lookupOp(domain: string, op: string): OpSpec | undefined {
  return TABLE.get(domain ? `${domain}:${op}` : op);
}

/** Every supported op, `domain:Op` for non-default domains. */
export function supportedOps(): string[] {
  return [...TABLE.keys()].sort();
}
