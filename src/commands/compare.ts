import fs from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { DlprofCommand } from '../cli/base.js';
import { modelFlags, parseBindings } from '../cli/flags.js';
import { storeFlags } from '../cli/gpu-flags.js';
import { CONFIDENCE, compareLayers, MIN_LAYERS_FOR_NOISE, type TimedLayer } from '../analysis/compare.js';
import { predict } from '../analysis/predict.js';
import { CONDITIONS, DEFAULT_CONDITIONS } from '../bench/measure.js';
import type { ModelGraph } from '../ir/graph.js';
import { loadGraph } from '../kernels/model.js';
import { kernelFor } from '../kernels/registry.js';
import { COMPARE_SCHEMA_VERSION, renderCompare, renderCompareMarkdown, reportLayers, type CompareResult, type ModelChange } from '../report/compare.js';
import { defaultDbPath, Store } from '../store/db.js';
import { resolveMachine, type MachineRecord } from '../store/machines.js';
import { terminalChalk } from '../util/color.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';

/** A layer benchmark's samples as parts of a model run: less the machine's per-pass overhead, a tenth kept (as analyze and predict take them). */
const inRun = (xs: number[], overheadMs: number): number[] => xs.map((x) => Math.max(x - overheadMs, x / 10));

function parseThreshold(raw: string): number {
  const pctForm = raw.trim().endsWith('%');
  const v = Number(pctForm ? raw.trim().slice(0, -1) : raw);
  const t = pctForm ? v / 100 : v;
  if (!(t >= 0 && t < 10) || raw.trim() === '') throw new DlprofError(`--threshold ${printable(raw)}: expected a fraction such as 0.05, or a percentage such as 5%`, 'E_BAD_FLAG', EXIT.usage);
  return t;
}

export default class Compare extends DlprofCommand {
  static override summary = 'Compare two bench/analyze reports (main against a pull request), or two machines in the store.';
  static override description = 'Reports: dlprof compare BASE.json HEAD.json matches layers by key and gives each change a 95 % bootstrap interval from the raw '
    + 'samples; a change is a regression only when it exceeds --threshold and its interval excludes no change. --fail-on regression exits 8 then. '
    + 'Machines: dlprof compare --machine A --machine B [MODEL…] compares the layers both have measured (each at its fastest variant, as part of a '
    + 'model run), by layer, op and model, and lists the layers only one has.';

  static override examples = [
    '<%= config.bin %> compare main.json pr.json --fail-on regression --markdown >> "$GITHUB_STEP_SUMMARY"',
    '<%= config.bin %> compare --machine llvmpipe --machine h200 fixtures/resnet-tiny.onnx',
  ];

  static override args = { inputs: Args.string({ description: 'BASE.json HEAD.json (reports), or ONNX models (machines, optional)' }) };
  static override strict = false;

  static override flags = {
    ...storeFlags,
    ...modelFlags,
    machine: Flags.string({ multiple: true, multipleNonGreedy: true, description: 'A machine to compare (twice: base, then head): its fingerprint, or part of its name (see dlprof machines).' }),
    threshold: Flags.string({ description: 'The smallest change that counts, as a fraction (0.05) or a percentage (5%).', default: '0.05' }),
    'fail-on': Flags.string({ description: 'Exit with status 8 when the comparison finds this.', options: ['regression'] }),
    markdown: Flags.boolean({ description: 'Print a Markdown summary (for a CI job summary or a pull-request comment) instead of the table.' }),
    conditions: Flags.string({ description: 'Machines: compare measurements timed under these conditions.', options: [...CONDITIONS], default: DEFAULT_CONDITIONS }),
    top: Flags.integer({ description: 'Layers to show in the table (every regression is shown).', default: 15, min: 1 }),
  };

  async run(): Promise<CompareResult> {
    const { argv, flags } = await this.parse(Compare);
    const threshold = parseThreshold(flags.threshold);
    if (flags.markdown && this.jsonEnabled()) throw new DlprofError('--markdown and --json: choose one output', 'E_BAD_FLAG', EXIT.usage);
    const inputs = argv as string[];
    const result = flags.machine?.length ? this.machines(flags, inputs, threshold) : this.reports(inputs, threshold);
    if (flags.markdown) this.log(renderCompareMarkdown(result, flags.top));
    else if (!this.jsonEnabled()) this.log(renderCompare(result, terminalChalk(), flags.top));
    if (flags['fail-on'] === 'regression' && result.regression) {
      process.exitCode = EXIT.regression;
      if (!this.jsonEnabled() && !flags.markdown) process.stderr.write(`dlprof: ${result.summary.regressions} layer and ${result.summary.opRegressions} op regressions past ${(100 * threshold).toFixed(1)} % (exit ${EXIT.regression})\n`);
    }
    return result;
  }

  private reports(files: string[], threshold: number): CompareResult {
    if (files.length !== 2) {
      throw new DlprofError(`compare takes two reports (BASE.json HEAD.json), or --machine twice; got ${files.length} files`, 'E_BAD_FLAG', EXIT.usage,
        ['Example: dlprof compare main.json pr.json', 'Example: dlprof compare --machine llvmpipe --machine h200']);
    }
    const [base, head] = files.map((file) => {
      let doc: unknown;
      try {
        doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        throw new DlprofError(`${printable(file)}: cannot read a JSON report: ${why}`, 'E_COMPARE_INPUT', EXIT.input);
      }
      return { file, ...reportLayers(doc, file) };
    });
    if (base.kind !== head.kind) {
      throw new DlprofError(`${printable(base.file)} is a ${base.kind} report and ${printable(head.file)} a ${head.kind} report: their layer times are not the same quantity`,
        'E_COMPARE_INPUT', EXIT.input, ['Compare two bench --json outputs, or two analyze --json outputs.']);
    }
    const notes: string[] = [];
    if (base.side.machine.fingerprint !== head.side.machine.fingerprint) notes.push(`the reports come from different machines (${printable(base.side.machine.name)} ${base.side.machine.fingerprint}, ${printable(head.side.machine.name)} ${head.side.machine.fingerprint}): changes mix the machines' differences with the code's`);
    if (base.side.conditions !== head.side.conditions) notes.push(`the reports were timed under different conditions (${base.side.conditions}, ${head.side.conditions})`);
    const c = compareLayers(base.layers, head.layers, threshold);
    if (!c.runNoise.estimated) notes.push(`only ${c.runNoise.layers} shared layers have samples on both sides (${MIN_LAYERS_FOR_NOISE} needed): the run-to-run noise is not estimated, and the intervals hold the samples' own noise only`);
    else if (Math.abs(c.runNoise.shift) > threshold) notes.push(`the shared layers moved by ${(100 * c.runNoise.shift).toFixed(1)} % together (median): one pair of runs cannot tell a slower or faster machine from a change that affects every layer alike, so layers are judged against that shift; rerun both on the same machine to settle it`);
    const noSamples = c.layers.filter((l) => !l.ci).length;
    if (noSamples) notes.push(`${noSamples} layers have no raw samples on both sides (${base.kind === 'analyze' ? 'analyze reports carry none' : 'a report from an older dlprof'}): their changes cannot be told from noise and fail nothing`);
    const models: ModelChange[] = base.endToEndMs !== null || head.endToEndMs !== null
      ? [{ name: base.name ?? 'model', baseMs: base.endToEndMs, headMs: head.endToEndMs, ratio: base.endToEndMs && head.endToEndMs ? head.endToEndMs / base.endToEndMs : null, baseCoverage: null, headCoverage: null }]
      : [];
    return {
      schemaVersion: COMPARE_SCHEMA_VERSION, mode: 'reports', threshold, confidence: CONFIDENCE,
      base: { ...base.side, label: 'base', file: base.file }, head: { ...head.side, label: 'head', file: head.file },
      ...c, models, regression: c.summary.regressions + c.summary.opRegressions > 0, notes,
    };
  }

  private machines(flags: { machine?: string[]; db?: string; conditions: string; dim?: string[]; shape?: string[] }, modelFiles: string[], threshold: number): CompareResult {
    if (flags.machine!.length !== 2) throw new DlprofError(`--machine: give exactly two machines (base, then head); got ${flags.machine!.length}`, 'E_BAD_FLAG', EXIT.usage);
    const bindings = parseBindings(flags.dim, flags.shape);
    const graphs: ModelGraph[] = modelFiles.map((f) => loadGraph(f, bindings));
    const store = Store.open(flags.db ?? defaultDbPath());
    try {
      const [a, b] = flags.machine!.map((m) => resolveMachine(store, m));
      if (a.id === b.id) throw new DlprofError(`--machine ${printable(flags.machine![0])} and ${printable(flags.machine![1])} name the same machine (${a.fingerprint})`, 'E_BAD_FLAG', EXIT.usage);
      const counts = new Map<string, number>();
      for (const g of graphs) for (const n of g.nodes) counts.set(n.key, (counts.get(n.key) ?? 0) + 1);
      const side = (m: MachineRecord): TimedLayer[] => {
        const overhead = store.latestProbe(m.id, 'pass-overhead')?.value ?? 0;
        const best = new Map<string, TimedLayer>();
        for (const r of store.latestForMachine(m.id, flags.conditions)) {
          if (r.status !== 'completed' || !r.samplesMs?.length || r.variant.endsWith('-f16')) continue;
          if (graphs.length && !counts.has(r.layerKey)) continue;
          const samplesMs = inRun(r.samplesMs, overhead);
          const ms = samplesMs.slice().sort((x, y) => x - y)[Math.floor(samplesMs.length / 2)];
          const cur = best.get(r.layerKey);
          if (!cur || ms < cur.ms) best.set(r.layerKey, { key: r.layerKey, op: r.op, count: counts.get(r.layerKey) ?? 1, variant: r.variant, ms, samplesMs });
        }
        return [...best.values()];
      };
      const c = compareLayers(side(a), side(b), threshold, { reports: false });
      const models: ModelChange[] = graphs.map((g) => {
        const one = (m: MachineRecord) => {
          const probe = (k: string): number | undefined => store.latestProbe(m.id, k)?.value;
          return predict({
            graph: g,
            defaultVariant: (layer) => kernelFor(layer.op)?.defaultVariant({ layer, consts: g.origins.get(layer.key)!.constValues }) ?? '',
            stored: (key) => store.latestForLayer(m.id, key, flags.conditions).map((r) => ({ variant: r.variant, status: r.status, samplesMs: r.samplesMs ?? null, medianMs: r.medianMs ?? null, tuned: !!r.config })),
            passOverheadMs: probe('pass-overhead') ?? 0, peaks: { gflops: probe('fma-f32'), gbps: probe('copy') },
          });
        };
        const [pa, pb] = [one(a), one(b)];
        const cov = (p: typeof pa): number => p.coverage.measuredLayers / Math.max(1, p.coverage.layers);
        return { name: g.name, baseMs: pa.predictedMs, headMs: pb.predictedMs, ratio: pa.predictedMs ? pb.predictedMs / pa.predictedMs : null, baseCoverage: cov(pa), headCoverage: cov(pb) };
      });
      const notes: string[] = [];
      for (const m of models) {
        if ((m.baseCoverage ?? 1) < 1 || (m.headCoverage ?? 1) < 1) notes.push(`${printable(m.name)}: not every layer is measured on both machines, so its totals leave some out (dlprof predict lists them)`);
      }
      const sideOf = (m: MachineRecord) => ({ kind: 'machine' as const, file: null, machine: { fingerprint: m.fingerprint, name: m.name }, conditions: flags.conditions });
      const [la, lb] = a.name === b.name ? [`${a.name} ${a.fingerprint.slice(0, 6)}`, `${b.name} ${b.fingerprint.slice(0, 6)}`] : [a.name, b.name];
      return {
        schemaVersion: COMPARE_SCHEMA_VERSION, mode: 'machines', threshold, confidence: CONFIDENCE,
        base: { ...sideOf(a), label: la }, head: { ...sideOf(b), label: lb },
        ...c, models, regression: false, notes,
      };
    } finally {
      store.close();
    }
  }
}
