import fs from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { DlprofCommand } from '../cli/base.js';
import { modelBindings, modelFlags } from '../cli/flags.js';
import { gpuFlags, measureFlags, storeFlags } from '../cli/gpu-flags.js';
import { analyzeModel } from '../analysis/pipeline.js';
import { CONDITIONS, CONDITIONS_HELP, DEFAULT_CONDITIONS, type Conditions } from '../bench/measure.js';
import { renderAnalyze, type AnalyzeResult } from '../report/analyze.js';
import { renderHtml } from '../report/html.js';
import { renderTrace } from '../report/trace.js';
import { terminalChalk } from '../util/color.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';
import { Progress } from '../util/progress.js';

/** `dlprof analyze`: the flags, the analysis pipeline (src/analysis/pipeline.ts), the reports. */
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
    ...measureFlags,
    html: Flags.string({ description: 'Write a self-contained HTML report to this file.' }),
    trace: Flags.string({ description: 'Write the measured run as a Chrome trace (Perfetto, chrome://tracing) to this file.' }),
    force: Flags.boolean({ description: 'Re-measure layers this machine already has results for, and the model\'s end-to-end, f16 and onnxruntime runs stored with them.' }),
    runs: Flags.integer({ description: 'Timed end-to-end runs, at least (after one warm-up; more within --run-budget-ms); their trimmed mean (a tenth off each end) is reported, with the spread.', default: 5, min: 1 }),
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
    const result = await analyzeModel({
      model: args.model, bindings, gpu: { adapter: flags.adapter, backend: flags.backend, unlock: flags['unlock-features'] }, db: flags.db,
      version: this.config.version, force: flags.force, runs: flags.runs, runBudgetMs: flags['run-budget-ms'], budgetMs: flags['budget-ms'],
      conditions: flags.conditions as Conditions, framework: flags.framework, probe: flags.probe, autotune: flags.autotune,
    }, new Progress());
    if (flags.html) fs.writeFileSync(flags.html, renderHtml(result));
    if (flags.trace) fs.writeFileSync(flags.trace, renderTrace(result));
    if (!this.jsonEnabled()) {
      this.log(renderAnalyze(result, terminalChalk()));
      if (flags.html) this.log(`HTML report: ${printable(flags.html)}`);
      if (flags.trace) this.log(`Chrome trace: ${printable(flags.trace)}`);
    }
    if (result.correctness && !result.correctness.ok) process.exitCode = EXIT.mismatch;
    return result;
  }
}
