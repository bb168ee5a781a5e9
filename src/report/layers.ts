/**
 * `dlprof layers` output: the JSON document (schemas/layers.schema.json) and its terminal
 * rendering. Both are pure functions of the processed models.
 */
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import type { UniqueLayer } from '../ir/dedupe.js';
import type { FailedNode, ModelGraph, OpCount, TensorDecl, UnsupportedOp } from '../ir/graph.js';
import { KEY_VERSION } from '../ir/key.js';
import type { AttrValue, Layer, TensorType } from '../ir/types.js';
import type { ControlFlowInfo } from '../onnx/shapes/engine.js';
import { printable } from '../util/errors.js';
import { bytes, shape, si } from '../util/format.js';

export const LAYERS_SCHEMA_VERSION = 1;

export interface ModelSummary {
  path: string;
  name: string;
  irVersion: number;
  producer: string;
  opsets: Record<string, number>;
  fileBytes: number;
  inputs: TensorDecl[];
  outputs: TensorDecl[];
  /** GPU layers (node instances). */
  layerCount: number;
  uniqueLayerCount: number;
  flops: number;
  params: number;
  /** Folded shape computation, done on the host at load time, not GPU layers. */
  hostWork: { nodes: number; ops: OpCount[] };
  constants: number;
  unsupported: UnsupportedOp[];
  failed: FailedNode[];
  controlFlow: ControlFlowInfo[];
  warnings: string[];
}

/** A unique layer (ir/types.ts Layer) with where it occurs. */
export interface LayerEntry extends Layer {
  /** Occurrences per model, aligned with `models`. */
  counts: number[];
  /** Up to 5 node labels per model, aligned with `models`. */
  nodes: string[][];
}

export interface LayersResult {
  schemaVersion: number;
  keyVersion: number;
  models: ModelSummary[];
  layers: LayerEntry[];
  /** Keys of layers that occur in more than one model. */
  shared: string[];
  /** Where `--emit` wrote the micro-benchmark suite. */
  emitted?: { dir: string; layers: number };
}

export function modelSummary(g: ModelGraph): ModelSummary {
  return {
    path: g.path,
    name: g.name,
    irVersion: g.irVersion,
    producer: g.producer,
    opsets: g.opsets,
    fileBytes: g.fileBytes,
    inputs: g.inputs,
    outputs: g.outputs,
    layerCount: g.nodes.length,
    uniqueLayerCount: g.layers.size,
    flops: g.flops,
    params: g.params,
    hostWork: { nodes: g.host.count, ops: g.host.ops },
    constants: g.constants,
    unsupported: g.unsupported,
    failed: g.failed,
    controlFlow: g.controlFlow,
    warnings: g.diagnostics.map((d) => (d.node ? `${d.node}: ${d.message}` : d.message)),
  };
}

export function layersResult(graphs: ModelGraph[], unique: UniqueLayer[]): LayersResult {
  return {
    schemaVersion: LAYERS_SCHEMA_VERSION,
    keyVersion: KEY_VERSION,
    models: graphs.map(modelSummary),
    layers: unique.map((u) => ({ ...u.layer, counts: u.counts, nodes: u.nodes })),
    shared: unique.filter((u) => u.counts.filter((c) => c > 0).length > 1).map((u) => u.layer.key),
  };
}

/** A compact one-line form of normalized attributes. */
export function compactAttrs(attrs: Record<string, AttrValue>, max = 60): string {
  const parts = Object.entries(attrs).map(([k, v]) => {
    let s: string;
    if (Array.isArray(v)) s = v.length > 6 ? `${v.slice(0, 6).join(',')},…` : v.join(',');
    else if (typeof v === 'object') s = v.kind === 'tensor' ? `tensor${shape(v.shape)}` : `graph(${v.nodes})`;
    else s = typeof v === 'number' && !Number.isInteger(v) ? String(Number(v.toPrecision(6))) : String(v);
    return `${k}=${s}`;
  });
  return printable(parts.join(' '), max);
}

const io = (ts: Array<TensorType | null>): string => ts.filter((t): t is TensorType => !!t).map((t) => shape(t.shape)).join(' ');

function modelBlock(m: ModelSummary, c: ChalkInstance): string {
  const lines: string[] = [];
  const opsets = Object.entries(m.opsets).map(([d, v]) => `${d} ${v}`).join(', ');
  lines.push(`${c.bold(printable(m.path))}  ${c.dim(`IR ${m.irVersion} · opsets ${opsets}${m.producer ? ` · ${printable(m.producer)}` : ''} · ${bytes(m.fileBytes)}`)}`);
  for (const [label, ts] of [['inputs', m.inputs], ['outputs', m.outputs]] as const) {
    const shown = ts.slice(0, 6).map((t) => `${printable(t.name, 40)} ${t.dtype}${shape(t.shape)}${t.value ? ` = ${t.value.slice(0, 8).join(',')}${t.value.length > 8 ? ',…' : ''}` : ''}`).join(', ');
    lines.push(`  ${label.padEnd(8)} ${shown}${ts.length > 6 ? `, … (${ts.length} in all)` : ''}`);
  }
  lines.push(`  layers ${m.layerCount} (${m.uniqueLayerCount} unique) · ${si(m.flops, 'FLOP')} · ${si(m.params)} params · `
    + `host work ${m.hostWork.nodes} nodes · constants ${m.constants}`);
  if (m.controlFlow.length) {
    lines.push(`  control flow: ${m.controlFlow.map((cf) => `${cf.op} '${cf.node}' (${cf.subgraphNodes} nodes${cf.iterations ? `, unrolled ×${cf.iterations}` : cf.inlined ? ', inlined' : ', not timed'})`).join('; ')}`);
  }
  if (m.unsupported.length) {
    lines.push(c.yellow(`  unsupported: ${m.unsupported.map((u) => `${u.domain ? `${printable(u.domain)}.` : ''}${printable(u.op)} ×${u.count}`).join(', ')}`));
  }
  if (m.failed.length) {
    lines.push(c.yellow(`  not analyzed: ${m.failed.length} nodes, e.g. '${m.failed[0].node}' (${m.failed[0].op}): ${m.failed[0].reason}`));
  }
  for (const w of m.warnings.slice(0, 5)) lines.push(c.yellow(`  warning: ${w}`));
  if (m.warnings.length > 5) lines.push(c.yellow(`  … ${m.warnings.length - 5} more warnings (see --json)`));
  return lines.join('\n');
}

export function renderLayers(r: LayersResult, c: ChalkInstance): string {
  const out: string[] = r.models.map((m) => modelBlock(m, c));
  const multi = r.models.length > 1;
  const head = ['#', 'op', 'attributes', 'inputs → outputs', 'FLOP', 'bytes', 'params',
    ...(multi ? r.models.map((m) => printable(m.name, 16)) : ['count'])];
  const table = new Table({ head: head.map((h) => c.bold(h)), style: { head: [], border: [] }, wordWrap: true,
    colWidths: [5, 20, 36, 34, 11, 11, 9, ...r.models.map(() => (multi ? 10 : 7))] });
  r.layers.forEach((l, i) => {
    table.push([i + 1, printable(l.op, 40), compactAttrs(l.attrs), `${io(l.inputs)} → ${io(l.outputs)}`, si(l.flops), bytes(l.bytes), si(l.params), ...l.counts]);
  });
  out.push(table.toString());
  if (multi) {
    out.push(`${r.shared.length} of ${r.layers.length} unique layers are shared by more than one model (benchmarked once).`);
  }
  if (r.emitted) out.push(`Wrote ${r.emitted.layers} micro-benchmarks to ${r.emitted.dir}`);
  return out.join('\n\n');
}
