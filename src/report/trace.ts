/**
 * `analyze --trace`: the measured run as a Chrome trace (the JSON Object Format of the Trace Event
 * Format), one complete ('X') event per layer with its op, shapes and variant; opens in Perfetto
 * and chrome://tracing.
 */
import type { AnalyzeResult } from './analyze.js';

export function renderTrace(r: AnalyzeResult): string {
  const events = r.layers
    .filter((l) => l.startMs !== null && l.runMs !== null)
    .map((l) => ({
      name: l.node,
      cat: l.op,
      ph: 'X',
      ts: l.startMs! * 1000,
      dur: l.runMs! * 1000,
      pid: 1,
      tid: 1,
      args: {
        op: l.op,
        variant: l.variant,
        key: l.key,
        inputs: l.inputs.map((t) => (t ? `${t.dtype}[${t.shape.join(',')}]` : null)),
        outputs: l.outputs.map((t) => `${t.dtype}[${t.shape.join(',')}]`),
        flops: l.flops,
        bytes: l.bytes,
      },
    }));
  const meta = [
    { name: 'process_name', ph: 'M', pid: 1, tid: 1, args: { name: `dlprof ${r.model.name}` } },
    { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: r.machine.adapterDescription } },
  ];
  return JSON.stringify({ traceEvents: [...meta, ...events], displayTimeUnit: 'ms', otherData: { model: r.model.path, measuredMs: r.latency.measuredMs } });
}
