/**
 * Control flow: If (when the condition is not a known constant; the engine inlines it
 * otherwise), Loop and Scan. Their subgraphs are inferred with `ctx.inferGraph`; values never
 * cross a loop boundary (a loop-carried value changes between iterations).
 */
import type { Dim } from '../types.js';
import type { GraphProto } from '../../proto.js';
import type { InferCtx, OpSpec, TensorInfo } from '../types.js';
import { normAxis, scalarOf } from '../util.js';

/** Type information only (no value, no weight). */
function typeOnly(i: TensorInfo | undefined): TensorInfo {
  return { dtype: i?.dtype, shape: i?.shape && [...i.shape] };
}

/** A shape both infos fit: equal dims kept, differing ones symbolic; unknown when ranks differ. */
function mergeShapes(ctx: InferCtx, a: Dim[] | undefined, b: Dim[] | undefined, hint: string): Dim[] | undefined {
  if (!a || !b || a.length !== b.length) return undefined;
  return a.map((d, i) => (d === b[i] ? d : ctx.symbol(hint)));
}

function mergeInfos(ctx: InferCtx, a: TensorInfo, b: TensorInfo, hint: string): TensorInfo {
  return { dtype: a.dtype ?? b.dtype, shape: mergeShapes(ctx, a.shape, b.shape, hint) };
}

function sameShape(a: Dim[] | undefined, b: Dim[] | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * A subgraph's inferred outputs, with symbolic dims replaced by the fixed dims its declared
 * outputs state (a loop body's slices of iteration-dependent ranges infer as symbolic).
 */
function inferBody(ctx: InferCtx, g: GraphProto, inputs: TensorInfo[]): TensorInfo[] {
  const out = ctx.inferGraph(g, inputs);
  return out.map((o, i) => {
    const dims = g.output?.[i]?.type?.tensorType?.shape?.dim;
    if (!o.shape || !dims || dims.length !== o.shape.length) return o;
    const shape = o.shape.map((d, k) => {
      const dv = dims[k].dimValue;
      const fixed = dv != null && (Number(dv) > 0 || Object.hasOwn(dims[k], 'dimValue')) ? Number(dv) : undefined;
      return typeof d === 'string' && fixed !== undefined ? fixed : d;
    });
    return { ...o, shape };
  });
}

function body(ctx: InferCtx, name: string): GraphProto {
  return ctx.attr.graph(name) ?? ctx.fail(`attribute '${name}' (a graph) is missing`);
}

const If: OpSpec = {
  infer: (ctx) => {
    const t = inferBody(ctx, body(ctx, 'then_branch'), []);
    const e = inferBody(ctx, body(ctx, 'else_branch'), []);
    if (t.length !== e.length) ctx.fail(`then_branch has ${t.length} outputs, else_branch ${e.length}`);
    return t.map((x, i) => {
      const y = e[i];
      if (x.dtype && y.dtype && x.dtype !== y.dtype) ctx.fail(`output ${i} is ${x.dtype} in then_branch but ${y.dtype} in else_branch`);
      return mergeInfos(ctx, x, y, 'if');
    });
  },
};

const Loop: OpSpec = {
  infer: (ctx) => {
    const g = body(ctx, 'body');
    const n = ctx.inputs.length - 2;
    if (n < 0) ctx.fail('Loop needs the M and cond inputs (possibly empty)');
    let carried = ctx.inputs.slice(2).map((x, i) => {
      if (!x) ctx.fail(`loop-carried input ${i} is missing`);
      return typeOnly(x);
    });
    const iterInfo: TensorInfo[] = [{ dtype: 'int64', shape: [] }, { dtype: 'bool', shape: [] }];
    let out = inferBody(ctx, g, [...iterInfo, ...carried]);
    // Carried shapes that change in the body become symbolic; a second pass settles them.
    if (carried.some((c, i) => !sameShape(c.shape, out[1 + i]?.shape))) {
      carried = carried.map((c, i) => mergeInfos(ctx, c, out[1 + i] ?? {}, 'loop'));
      out = inferBody(ctx, g, [...iterInfo, ...carried]);
      carried = carried.map((c, i) => mergeInfos(ctx, c, out[1 + i] ?? {}, 'loop'));
    }
    const m = ctx.has(0) ? scalarOf(ctx.value(0)) : undefined;
    const condFalse = ctx.has(1) && ctx.value(1)?.data[0] === 0;
    const trips: Dim = condFalse ? 0 : m !== undefined && m < 2 ** 53 ? Math.max(0, m) : ctx.symbol('trips');
    const scans = out.slice(1 + n).map((s) => ({ dtype: s.dtype, shape: s.shape && [trips, ...s.shape] }));
    return [...carried, ...scans];
  },
};

/** Scan (opset 9+): N state variables, then M scan inputs sliced along their scan axes. */
function scan9(ctx: InferCtx): TensorInfo[] {
  const g = body(ctx, 'body');
  const m = ctx.attr.int('num_scan_inputs');
  const n = ctx.inputs.length - m;
  if (n < 0) ctx.fail(`num_scan_inputs=${m} but the node has ${ctx.inputs.length} inputs`);
  const zeros = (k: number): number[] => new Array<number>(k).fill(0);
  const inAxes = ctx.attr.ints('scan_input_axes', zeros(m)).map((a, j) => normAxis(ctx, a, ctx.shape(n + j).length));
  ctx.setAttr('scan_input_axes', inAxes);
  ctx.attr.ints('scan_input_directions', zeros(m));
  let seq: Dim | undefined;
  const slices = inAxes.map((a, j) => {
    const s = ctx.shape(n + j);
    if (seq === undefined || typeof seq === 'string') seq = s[a];
    return { dtype: ctx.dtype(n + j), shape: s.filter((_, i) => i !== a) };
  });
  const states = ctx.inputs.slice(0, n).map(typeOnly);
  const out = inferBody(ctx, g, [...states, ...slices]);
  const k = out.length - n;
  const outAxes = ctx.attr.ints('scan_output_axes', zeros(k)).map((a, j) => normAxis(ctx, a, (out[n + j].shape?.length ?? 0) + 1));
  ctx.setAttr('scan_output_axes', outAxes);
  ctx.attr.ints('scan_output_directions', zeros(k));
  const len = seq ?? ctx.symbol('scan');
  return [
    ...out.slice(0, n).map((o, i) => mergeInfos(ctx, states[i], o, 'scan')),
    ...out.slice(n).map((o, j) => {
      if (!o.shape) return { dtype: o.dtype };
      const shape = [...o.shape];
      shape.splice(outAxes[j], 0, len);
      return { dtype: o.dtype, shape };
    }),
  ];
}

/** Scan (opset 8): a leading batch axis everywhere, the sequence axis second, sequence_lens first. */
function scan8(ctx: InferCtx): TensorInfo[] {
  const g = body(ctx, 'body');
  const m = ctx.attr.int('num_scan_inputs');
  const n = ctx.inputs.length - 1 - m;
  if (n < 0) ctx.fail(`num_scan_inputs=${m} but the node has ${ctx.inputs.length} inputs`);
  ctx.attr.ints('directions', new Array<number>(m).fill(0));
  const states = ctx.inputs.slice(1, 1 + n).map((x) => ({ dtype: x?.dtype, shape: x?.shape?.slice(1) }));
  const batch = ctx.shape(1 + n)[0];
  const seq = ctx.shape(1 + n)[1];
  const slices = Array.from({ length: m }, (_, j) => ({ dtype: ctx.dtype(1 + n + j), shape: ctx.shape(1 + n + j).slice(2) }));
  const out = inferBody(ctx, g, [...states, ...slices]);
  return [
    ...out.slice(0, n).map((o) => ({ dtype: o.dtype, shape: o.shape && [batch, ...o.shape] })),
    ...out.slice(n).map((o) => ({ dtype: o.dtype, shape: o.shape && [batch, seq, ...o.shape] })),
  ];
}

export const controlFlowOps: Record<string, OpSpec> = {
  If,
  Loop,
  Scan: { infer: (ctx) => (ctx.opset < 9 ? scan8(ctx) : scan9(ctx)) },
};
