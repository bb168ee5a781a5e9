import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Args, Flags } from '@oclif/core';
import { DlprofCommand } from '../cli/base.js';
import { modelBindings, modelFlags } from '../cli/flags.js';
import { gpuFlags, storeFlags } from '../cli/gpu-flags.js';
import { inRun, splitFramework } from '../analysis/framework.js';
import { findFusions } from '../analysis/fusion.js';
import { fusedCase } from '../analysis/fused-layers.js';
import { latencies, longestPath, type LayerTime } from '../analysis/latency.js';
import { roofline } from '../analysis/roofline.js';
import { suggest } from '../analysis/suggest.js';
import { DEFAULT_TIMING } from '../bench/harness.js';
import { CONDITIONS, CONDITIONS_HELP, DEFAULT_CONDITIONS, effectiveConditions, type Conditions } from '../bench/measure.js';
import { relativeSpread, trimmedMean } from '../bench/stats.js';
import { fitsBeside, Interleaver } from '../bench/interleave.js';
import { bindModel, canRun, layerCase, modelInputs, referenceRun, runModel, type BoundModel, type ModelRun } from '../bench/model.js';
import { ortOutputs, startOrtFramework, type FrameworkResult, type OrtProfile } from '../bench/ort.js';
import { ensureProbe, machineInfo, measureCases, openSession, pendingCases, probePassOverhead, recordModels } from '../store/session.js';
import { compareOutputs, MODEL_TOLERANCE } from '../bench/verify.js';
import { dedupe } from '../ir/dedupe.js';
import { processModel } from '../ir/process.js';
import { kernelFor } from '../kernels/registry.js';
import type { HostTensor, LayerCase } from '../kernels/types.js';
import { ANALYZE_SCHEMA_VERSION, renderAnalyze, type AnalyzeLayer, type AnalyzeResult } from '../report/analyze.js';
import type { BenchLayer } from '../report/bench.js';
import { renderHtml } from '../report/html.js';
import { renderTrace } from '../report/trace.js';
import { defaultDbPath } from '../store/db.js';
import { terminalChalk } from '../util/color.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';
import { Progress } from '../util/progress.js';

/**
 * Whole-model f16 tolerance: outputs computed with f16 kernels may differ from float32 ones by
 * ~2⁻¹¹ per operation, compounding over the layers; 5% of the output's magnitude keeps the
 * classification-level result while catching overflow (inf/NaN) and badly conditioned layers.
 */
const F16_MODEL_TOLERANCE = { rtol: 5e-2, atol: 5e-2 };

const isF16 = (v: string): boolean => v.endsWith('-f16');

/** A change of the end-to-end time across the layer benchmarks beyond this is reported: the reconstruction target is 5 %. */
const DRIFT_NOTE = 0.05;

/**
 * A layer's completed variants with their times as layers of a model run (inRun), fastest first.
 * The time of a variant is its samples' trimmed mean (stats.ts TRIM): latencies are sums of layer
 * times, and so is the measured run, whose time is the same statistic of its runs.
 */
function variantTimes(l: BenchLayer, passOverheadMs: number): Array<{ variant: string; ms: number }> {
  return l.variants.flatMap((v) => {
    const ms = v.status === 'completed' ? v.trimmedMeanMs : undefined;
    return ms === undefined ? [] : [{ variant: v.variant, ms: inRun(ms, passOverheadMs) }];
  }).sort((a, b) => a.ms - b.ms);
}

function layerTimes(layers: BenchLayer[], passOverheadMs: number): { times: Map<string, LayerTime>; f16: Map<string, { variant: string; ms: number }> } {
  const times = new Map<string, LayerTime>();
  const f16 = new Map<string, { variant: string; ms: number }>();
  for (const l of layers) {
    const done = variantTimes(l, passOverheadMs);
    const full = done.filter((v) => !isF16(v.variant));
    const def = done.find((v) => v.variant === l.defaultVariant);
    if (def && full.length) times.set(l.key, { defaultVariant: def.variant, defaultMs: def.ms, bestVariant: full[0].variant, bestMs: full[0].ms });
    const half = done.find((v) => isF16(v.variant));
    if (half) f16.set(l.key, half);
  }
  return { times, f16 };
}

export default class Analyze extends DlprofCommand {
  static override summary = 'Measure a model end to end on WebGPU and report its latency, lower bounds, ideal latency and ranked optimizations.';
  static override description = 'Benchmarks the layers the store lacks for this machine, runs the whole model on dlprof\'s kernels (checking its '
    + 'outputs against onnxruntime\'s CPU results), reconstructs the latency from the layer benchmarks, derives the sequential and parallel '
    + 'lower bounds and the ideal latency, runs the model on onnxruntime\'s WebGPU execution provider, and ranks what to change.';

  static override examples = [
    '<%= config.bin %> analyze fixtures/resnet-tiny.onnx',
    '<%= config.bin %> analyze fixtures/vit-tiny.onnx --dim batch=1 --html report.html --trace trace.json',
    '<%= config.bin %> analyze models/out/resnet50.onnx --json',
  ];

  static override args = { model: Args.string({ description: 'ONNX model file', required: true }) };

  static override flags = {
    ...modelFlags,
    ...gpuFlags,
    ...storeFlags,
    html: Flags.string({ description: 'Write a self-contained HTML report to this file.' }),
    trace: Flags.string({ description: 'Write the measured run as a Chrome trace (Perfetto, chrome://tracing) to this file.' }),
    force: Flags.boolean({ description: 'Re-measure layers this machine already has results for.' }),
    runs: Flags.integer({ description: 'Timed end-to-end runs, at least (after one warm-up); their trimmed mean (a tenth off each end) is reported, with the spread.', default: 10, min: 1 }),
    'run-budget-ms': Flags.integer({ description: 'Keep repeating the end-to-end run past --runs until this much time has passed (at most 200 runs after the layer benchmarks, 1000 between them): a fast model gets a stable time.', default: 10_000, min: 0 }),
    'budget-ms': Flags.integer({ description: 'Time budget per variant measurement, in ms.', default: 1000, min: 50 }),
    conditions: Flags.string({ description: `The state each layer's timed executions start in: ${CONDITIONS_HELP}.`, options: [...CONDITIONS], default: DEFAULT_CONDITIONS }),
    framework: Flags.boolean({ description: "Measure onnxruntime's WebGPU execution provider on the same model.", default: true, allowNo: true }),
    probe: Flags.boolean({ description: "Re-measure the machine's peak compute and bandwidth.", allowNo: true }),
  };

  async run(): Promise<AnalyzeResult> {
    const { args, flags } = await this.parse(Analyze);
    const bindings = modelBindings(flags);
    for (const [flag, file] of [['html', flags.html], ['trace', flags.trace]] as const) {
      if (file && fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new DlprofError(`--${flag} ${file}: is a directory`, 'E_BAD_FLAG', EXIT.usage);
    }
    const progress = new Progress();
    const t0 = performance.now();
    const g = processModel(args.model, bindings);
    const parseMs = performance.now() - t0;
    const notes: string[] = [];
    // What the user must know about the bindings: dimensions --defaults set, a graph gated on an unbound input.
    notes.push(...g.diagnostics.filter((d) => d.code === 'W_DEFAULT_DIM' || d.code === 'W_GATED_ON_INPUT').map((d) => d.message));
    if (g.unsupported.length) notes.push(`unsupported ops (not timed): ${g.unsupported.map((u) => `${u.op} ×${u.count}`).join(', ')}`);
    if (g.failed.length) notes.push(`${g.failed.length} nodes without static shapes were not timed`);
    const cases = dedupe([g]).map((u) => layerCase(g, u.layer.key));
    const s = await openSession({ adapter: flags.adapter, backend: flags.backend, unlock: flags['unlock-features'] }, flags.db ?? defaultDbPath(), this.config.version);
    s.clock.add('parse', parseMs);
    const { conditions, note } = effectiveConditions(flags.conditions as Conditions, s.ctx.timestamps);
    if (note) notes.push(note);
    // The model bound for the end-to-end runs: between the layer benchmarks (when it fits beside
    // them) and after them, bound once.
    let bound: BoundModel | undefined;
    const releaseBound = (): void => { bound?.release(); bound = undefined; };
    try {
      recordModels(s, [g]);
      const probed = await ensureProbe(s, flags.probe);
      const timing = { ...DEFAULT_TIMING, budgetMs: flags['budget-ms'] };
      const inputs = modelInputs(g);
      const chooseDefault = (c: LayerCase): string => kernelFor(c.layer.op)?.defaultVariant(c) ?? '';
      const can = canRun(s.runner, g, chooseDefault);
      const endToEnd = { repeats: flags.runs, budgetMs: flags['run-budget-ms'] };
      // When layers are benchmarked now, the model also runs while they are: in blocks between the
      // default variants' rounds (`inference`, which has timestamps; a model that fits beside them;
      // interleave.ts), else before them. On a machine whose speed drifts (a shared VM: 10–20 %
      // within seconds on ours) a measurement taken only after them compares with a different
      // machine state.
      let before: ModelRun | null = null;
      let during: Interleaver | undefined;
      if (pendingCases(s, cases, { force: flags.force, conditions }) > 0) {
        // The pass overhead subtracted from these benchmarks, measured next to them (unless just
        // probed, or --no-probe): one probe kept from a slow moment of a drifting machine would
        // bias every later analysis (on our VM 19.8 µs once, ~2.5 µs usually).
        if (!probed && flags.probe === undefined) await probePassOverhead(s);
        if (can.ok && conditions === 'inference' && fitsBeside(g)) {
          bound = await s.clock.time('end-to-end', () => bindModel(s.runner, g, inputs, chooseDefault, (w) => progress.step(1, 1, `end-to-end runs between the layer benchmarks: ${w}`)));
          during = new Interleaver(bound, { ...endToEnd, onProgress: (w) => progress.step(1, 1, w) });
        } else if (can.ok) {
          before = await s.clock.time('end-to-end', () => runModel(s.runner, g, inputs, chooseDefault, { ...endToEnd, perLayer: false }, (w) => progress.step(1, 1, `end-to-end run before the layer benchmarks: ${w}`)));
          progress.done();
        }
      }
      // onnxruntime's WebGPU EP (the framework baseline) compiles its programs on its own device and
      // threads: started now, it compiles beside dlprof's checks (a software adapter compiles on
      // the CPU: two cores at once), and measureCases waits for it before any timing.
      const ortRun = flags.framework ? startOrtFramework(args.model, inputs, { runs: Math.max(5, flags.runs) }) : undefined;
      const ortWarm = ortRun && { label: "onnxruntime's WebGPU execution provider to compile its programs", done: ortRun.ready, phase: 'onnxruntime' as const };
      const m = await measureCases(s, cases, { force: flags.force, order: g.nodes.map((n) => n.key), progress, timing, conditions, interleave: during, beforeTiming: ortWarm });
      const interleaved = during?.totalsMs.length ? during.totalsMs : null;
      const duringMs = interleaved && trimmedMean(interleaved);
      if (s.interrupted) throw new DlprofError('interrupted; finished layer measurements were kept', 'E_INTERRUPTED', EXIT.interrupted);
      const passOverheadMs = s.store.latestProbe(s.machineId, 'pass-overhead')?.value ?? 0;
      const { times, f16 } = layerTimes(m.layers, passOverheadMs);
      for (const l of m.layers) {
        if (!times.has(l.key)) notes.push(`layer ${l.op} ${l.key} has no usable measurement${l.kernel ? '' : ' (no kernel for this op)'}`);
        for (const v of l.variants) if (v.status === 'mismatch') notes.push(`kernel variant ${l.op}/${v.variant} disagrees with its reference and was not timed: ${v.reason}`);
      }

      // The measured end-to-end run, on default variants, checked against onnxruntime.
      let run: ModelRun | null = null;
      let correctness: AnalyzeResult['correctness'] = null;
      let reference: Map<string, HostTensor> | undefined;
      if (!can.ok) notes.push(`the whole model cannot run on dlprof's kernels: ${can.reason}`);
      else {
        // The model bound for the runs between the benchmarks runs again: binding it a second time
        // would hold it twice (sparse-dnn-4096, 7.7 GB, ran a 24 GB machine out of memory so).
        const onRun = (w: string): void => progress.step(1, 1, `end-to-end run: ${w}`);
        // Nothing runs beside the measured runs.
        if (ortRun) await s.clock.time('onnxruntime', () => ortRun.ready);
        progress.phase('end-to-end runs of the model');
        run = await s.clock.time('end-to-end', async () => {
          bound ??= await bindModel(s.runner, g, inputs, chooseDefault, onRun);
          return bound.time(endToEnd, onRun);
        });
        progress.done();
        releaseBound();
        let referenceName = 'onnxruntime-node (CPU execution provider)';
        try {
          reference = await s.clock.time('onnxruntime', () => ortOutputs(args.model, inputs));
        } catch (e) {
          // Models with ops onnxruntime does not know (dlprof's own domain, mmcv's) are checked
          // against dlprof's CPU reference implementations instead.
          const why = (e as Error).message.split('\n')[0];
          try {
            reference = await referenceRun(g, inputs, (i, n) => progress.step(i + 1, n, 'output check on the CPU references'));
            progress.done();
            referenceName = "dlprof's CPU reference implementations, layer by layer (onnxruntime could not run the model)";
            notes.push(`onnxruntime (CPU) could not run the model (${why}); outputs were checked against dlprof's CPU reference implementations`);
          } catch (e2) {
            notes.push(`onnxruntime (CPU) could not run the model for the output check (${why}), nor could the CPU references: ${(e2 as Error).message}`);
          }
        }
        if (reference) {
          const outs = g.outputs.map((o) => {
            const got = run!.outputs.get(o.name);
            const want = reference!.get(o.name);
            const a = got && want ? compareOutputs([got], [want], undefined, MODEL_TOLERANCE) : undefined;
            return { name: o.name, ok: !!a?.ok, maxAbsError: a ? a.maxAbsError : Infinity };
          });
          correctness = { reference: referenceName, ok: outs.every((o) => o.ok), tolerance: MODEL_TOLERANCE,
            outputs: outs.map((o) => ({ ...o, maxAbsError: Number.isFinite(o.maxAbsError) ? o.maxAbsError : -1 })) };
          if (!correctness.ok) {
            notes.push(`MISMATCH: the model's outputs on dlprof's kernels differ from onnxruntime's (${outs.filter((o) => !o.ok).map((o) => `'${o.name}' max |Δ| ${o.maxAbsError.toExponential(2)}`).join(', ')}): a kernel is wrong`);
            process.stderr.write(`dlprof: ${notes[notes.length - 1]}\n`);
          }
        }
      }

      // f16 where it is faster and the model stays within tolerance (checked by running it).
      let f16Used = false;
      let f16Reason = s.ctx.f16 ? 'no f16 kernel variant is faster'
        : `the adapter has no shader-f16${s.ctx.unlocked ? '' : " (Dawn may keep it behind a toggle: see 'dlprof devices', --unlock-features)"}`;
      const faster = new Map([...f16].filter(([k, h]) => h.ms < (times.get(k)?.bestMs ?? Infinity)));
      if (faster.size && reference && run) {
        const choose = (c: LayerCase): string => faster.get(c.layer.key)?.variant ?? times.get(c.layer.key)?.bestVariant ?? chooseDefault(c);
        const half = canRun(s.runner, g, choose).ok ? await runModel(s.runner, g, inputs, choose, { repeats: 1 }) : null;
        const ok = !!half && g.outputs.every((o) => {
          const got = half.outputs.get(o.name);
          const want = reference!.get(o.name);
          return !!got && !!want && compareOutputs([got], [want], undefined, F16_MODEL_TOLERANCE).ok;
        });
        f16Used = ok;
        f16Reason = ok ? `${faster.size} layers use f16 kernels; outputs within rtol ${F16_MODEL_TOLERANCE.rtol} of float32` : `outputs in f16 exceed rtol ${F16_MODEL_TOLERANCE.rtol}`;
      }

      let framework: FrameworkResult | null = null;
      let profile: OrtProfile | { error: string } = { error: 'not profiled' };
      if (ortRun) {
        try {
          progress.phase("onnxruntime's WebGPU execution provider on the same model (profiled, then timed)");
          ({ latency: framework, profile } = await s.clock.time('onnxruntime', async () => { await ortRun.ready; return ortRun.measure(); }));
          if ('error' in profile) notes.push(`onnxruntime's kernel and host time are not told apart: ${profile.error}`);
          progress.done();
        } catch (e) {
          notes.push(`onnxruntime's WebGPU execution provider could not run the model: ${(e as Error).message.split('\n')[0]}`);
        }
      }

      const lat = latencies(g, times);

      // Fusions: each fusable chain's fused layer, run and timed like any layer.
      const groups = findFusions(g);
      const fusedCases = groups.map((f) => fusedCase(g, f));
      const uniqueFused = [...new Map(fusedCases.filter((c): c is NonNullable<typeof c> => !!c).map((c) => [c.layer.key, c])).values()];
      const fm = uniqueFused.length ? await measureCases(s, uniqueFused, { force: flags.force, progress, timing, conditions }) : undefined;
      const fusedBest = new Map<string, { variant: string; ms: number }>();
      for (const l of fm?.layers ?? []) {
        const best = variantTimes(l, passOverheadMs).find((v) => !isF16(v.variant));
        if (best) fusedBest.set(l.key, best);
      }
      const nodeTime = (id: number): number => {
        const key = g.nodes[id].key;
        const t = times.get(key)?.bestMs ?? 0;
        const h = f16Used ? faster.get(key)?.ms : undefined;
        return h !== undefined ? Math.min(t, h) : t;
      };
      const fusions: Array<{ kind: string; nodes: number[]; fusedMs: number; unfusedMs: number; variant: string }> = [];
      groups.forEach((f, i) => {
        const c = fusedCases[i];
        const best = c ? fusedBest.get(c.layer.key) : undefined;
        if (best) fusions.push({ kind: f.kind, nodes: f.nodes, fusedMs: best.ms, unfusedMs: f.nodes.reduce((a, id) => a + nodeTime(id), 0), variant: best.variant });
      });
      // In the ideal schedule a profitable fusion's time sits on its first node, the rest cost 0.
      const fusedWeight = new Map<number, number>();
      for (const f of fusions) {
        if (f.fusedMs >= f.unfusedMs) continue;
        f.nodes.forEach((id, k) => fusedWeight.set(id, k === 0 ? f.fusedMs : 0));
      }
      const ideal = longestPath(g, (id) => fusedWeight.get(id) ?? nodeTime(id));
      const unmeasured = groups.length - fusions.length;
      if (unmeasured) notes.push(`${unmeasured} of ${groups.length} fusable chains have no measured fused kernel (no kernel for that shape, or it failed its check); the ideal latency leaves them unfused`);
      // Measured: the runs taken between the benchmarks, else the mean of the times before and after them, else the runs after.
      const measuredMs = duringMs ?? (run ? (before ? (before.totalMs + run.totalMs) / 2 : run.totalMs) : null);
      const earlier = duringMs ?? before?.totalMs;
      const drift = earlier !== undefined && run ? (run.totalMs - earlier) / earlier : null;
      const machine = machineInfo(s);
      const peaks = machine.peaks.fmaF32GflopS && machine.peaks.copyGBs ? { gflops: machine.peaks.fmaF32GflopS, gbps: machine.peaks.copyGBs } : undefined;
      const onPath = new Set(lat.criticalPath);
      const layers: AnalyzeLayer[] = g.nodes.map((n, i) => {
        const l = g.layers.get(n.key)!;
        const t = times.get(n.key);
        const ms = run ? run.layers[i].ms : t?.defaultMs;
        const rf = peaks && ms ? roofline(l.flops, l.bytes, ms, peaks) : undefined;
        return {
          id: n.id, node: n.label, op: n.op, key: n.key, inputs: l.inputs, outputs: l.outputs,
          variant: run ? run.layers[i].variant : null, runMs: run ? run.layers[i].ms : null, startMs: run ? run.layers[i].startMs : null,
          defaultVariant: t?.defaultVariant ?? null, defaultMs: t?.defaultMs ?? null, bestVariant: t?.bestVariant ?? null, bestMs: t?.bestMs ?? null,
          flops: l.flops, bytes: l.bytes, intensity: l.bytes ? l.flops / l.bytes : 0,
          achievedGflops: rf?.achievedGflops ?? null, achievedGbps: rf?.achievedGbps ?? null, bound: rf?.bound ?? null, fractionOfPeak: rf?.fractionOfPeak ?? null,
          onCriticalPath: onPath.has(n.id),
        };
      });
      const opMs = new Map<string, { count: number; ms: number }>();
      for (const l of layers) {
        const e = opMs.get(l.op) ?? { count: 0, ms: 0 };
        e.count++;
        e.ms += l.runMs ?? l.defaultMs ?? 0;
        opMs.set(l.op, e);
      }
      const totalOpMs = [...opMs.values()].reduce((a, b) => a + b.ms, 0) || 1;
      const split = framework ? splitFramework(g, framework, profile, (id) => times.get(g.nodes[id].key)?.defaultMs, passOverheadMs) : null;
      const suggestions = suggest({
        graph: g, times, f16: f16Used ? faster : undefined, fusions, sequentialLowerBoundMs: lat.sequentialLowerBoundMs,
        parallelLowerBoundMs: lat.parallelLowerBoundMs, criticalPath: lat.criticalPath, measuredMs: measuredMs ?? lat.reconstructedMs,
        framework: split ? { wallMs: split.wallMs, kernelInRunMs: split.kernelInRunMs ?? undefined, hostMs: split.hostMs ?? undefined, profiledWallMs: split.profiledWallMs ?? undefined, dispatches: split.dispatches ?? undefined } : undefined,
        dlprofKernelMs: lat.reconstructedMs,
        hostShapeMs: 'error' in profile ? undefined : profile.hostNodes.filter((x) => ['Shape', 'Gather', 'Unsqueeze', 'Concat', 'Slice', 'Squeeze', 'Cast', 'Range', 'ConstantOfShape', 'Equal', 'Where'].includes(x.op)
          && !g.nodes.some((n) => n.name && x.node.startsWith(n.name))).reduce((a, x) => a + x.ms, 0),
      });
      const measuredSpread = interleaved ? relativeSpread(interleaved) : run ? relativeSpread([...(before?.totalsMs ?? []), ...run.totalsMs]) : null;
      const reconstructionError = measuredMs ? (lat.reconstructedMs - measuredMs) / measuredMs : null;
      if (drift !== null && Math.abs(drift) > DRIFT_NOTE) {
        const [span, when] = duringMs !== null ? ['from while the layers were benchmarked to after', 'during'] : ['while the layers were benchmarked', 'before'];
        notes.push(`the end-to-end time moved ${(100 * drift).toFixed(1)}% ${span} (${earlier!.toFixed(3)} ms ${when}, ${run!.totalMs.toFixed(3)} ms after): this machine's speed is not steady, so the reconstruction error is uncertain by about as much; measure on an idle machine`);
      }
      if (measuredSpread !== null && reconstructionError !== null && Math.abs(reconstructionError) > 0.05 && Math.abs(reconstructionError) <= measuredSpread / 2) {
        notes.push(`the reconstruction error (${(100 * reconstructionError).toFixed(1)}%) is within this machine's run-to-run noise (measured runs spread ±${(50 * measuredSpread).toFixed(0)}% around the median): on this machine the comparison is limited by the noise, not by the reconstruction`);
      }
      if (measuredMs !== null) {
        if (measuredMs < lat.sequentialLowerBoundMs) notes.push(`measured (${measuredMs.toFixed(3)} ms) is below the sequential lower bound (${lat.sequentialLowerBoundMs.toFixed(3)} ms): inside one submission the GPU overlaps consecutive layers and caches stay warm, which isolated micro-benchmarks do not see`);
      }
      process.stderr.write(`analysis ${s.clock.text()}\n`);
      const result: AnalyzeResult = {
        schemaVersion: ANALYZE_SCHEMA_VERSION,
        analysisTime: s.clock.summary(),
        model: { path: g.path, name: g.name, layerCount: g.nodes.length, uniqueLayerCount: g.layers.size, flops: g.flops, params: g.params, inputs: g.inputs, outputs: g.outputs },
        machine,
        conditions,
        latency: {
          measuredMs, measuredSpread, measuredBeforeMs: before?.totalMs ?? null, measuredDuringMs: duringMs, measuredAfterMs: run?.totalMs ?? null, drift,
          reconstructedMs: lat.reconstructedMs, reconstructionError,
          sequentialLowerBoundMs: lat.sequentialLowerBoundMs, parallelLowerBoundMs: lat.parallelLowerBoundMs, idealMs: ideal.length,
          frameworkMs: framework?.trimmedMeanMs ?? null,
        },
        ideal: { parallelMs: lat.parallelLowerBoundMs, f16: { used: f16Used, reason: f16Reason }, fusions: { groups: groups.length, measured: fusions.length, savingMs: fusions.reduce((a, f) => a + Math.max(0, f.unfusedMs - f.fusedMs), 0) } },
        correctness,
        framework: split,
        layers,
        byOp: [...opMs].map(([op, e]) => ({ op, count: e.count, ms: e.ms, pct: (100 * e.ms) / totalOpMs })).sort((a, b) => b.ms - a.ms),
        suggestions,
        notes,
      };
      if (flags.html) fs.writeFileSync(flags.html, renderHtml(result));
      if (flags.trace) fs.writeFileSync(flags.trace, renderTrace(result));
      if (!this.jsonEnabled()) {
        this.log(renderAnalyze(result, terminalChalk()));
        if (flags.html) this.log(`HTML report: ${printable(flags.html)}`);
        if (flags.trace) this.log(`Chrome trace: ${printable(flags.trace)}`);
      }
      if (correctness && !correctness.ok) process.exitCode = EXIT.mismatch;
      return result;
    } finally {
      releaseBound();
      s.close();
    }
  }
}
