/**
 * Canonical layer keys. A key is a stable hash of (op, normalized attributes, input and output
 * types, and — only when a weight is mostly zeros — its sparsity bucket), so the same layer in two
 * models, or twice in one, has the same key. Changing what goes into the key is a schema change:
 * bump KEY_VERSION (stored results are indexed by key).
 */
import { createHash } from 'node:crypto';
import type { AttrValue, TensorType, WeightInfo } from './types.js';

export const KEY_VERSION = 1;

/** Weights at least this sparse make a different layer (sparse kernels apply). */
export const SPARSE_KEY_THRESHOLD = 0.5;

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return JSON.stringify(String(v));
  return JSON.stringify(v);
}

export function sortedAttrs(attrs: Record<string, AttrValue>): Record<string, AttrValue> {
  return Object.fromEntries(Object.keys(attrs).sort().map((k) => [k, attrs[k]]));
}

export function layerKey(op: string, attrs: Record<string, AttrValue>, inputs: Array<TensorType | null>, outputs: TensorType[], weights: WeightInfo[]): string {
  const sparse = weights
    .filter((w) => w.sparseInitializer || (w.sparsity ?? 0) >= SPARSE_KEY_THRESHOLD)
    // Bucketed to 1% so estimates from sampling do not split equal layers.
    .map((w) => ({ input: w.input, sparsity: Math.round((w.sparsity ?? 0) * 100) / 100 }));
  const text = canonicalJson({
    v: KEY_VERSION,
    op,
    attrs,
    inputs: inputs.map((t) => (t ? { dtype: t.dtype, shape: t.shape } : null)),
    outputs: outputs.map((t) => ({ dtype: t.dtype, shape: t.shape })),
    sparse: sparse.length ? sparse : undefined,
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
