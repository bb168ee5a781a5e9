import { Args, Flags } from '@oclif/core';
import { DlprofCommand } from '../cli/base.js';
import { modelBindings, modelFlags } from '../cli/flags.js';
import { gpuFlags, measureFlags, storeFlags } from '../cli/gpu-flags.js';
import { DEFAULT_TIMING } from '../bench/harness.js';
import { CONDITIONS, CONDITIONS_HELP, DEFAULT_CONDITIONS, effectiveConditions, type Conditions } from '../bench/measure.js';
import { autotuneLevel, ensureProbe, machineInfo, measureCases, openSession, recordModels } from '../store/session.js';
import { BENCH_SCHEMA_VERSION, renderBench, type BenchResult } from '../report/bench.js';
import { defaultDbPath } from '../store/db.js';
import { loadWorkload } from '../suite/load.js';
import { terminalChalk } from '../util/color.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';
import { Progress } from '../util/progress.js';

export default class Bench extends DlprofCommand {
  static override summary = 'Time every unique layer of models (or of a micro-benchmark suite) on every kernel variant, and store the results.';
  static override description = 'Each variant is first checked against its CPU reference (a variant that disagrees is reported and never timed), '
    + 'then timed with GPU timestamp queries until the samples are stable. Results go to the SQLite store keyed by this machine; layers '
    + 'already measured here are reused unless --force. Progress goes to stderr.';

  static override examples = [
    '<%= config.bin %> bench fixtures/resnet-tiny.onnx',
    '<%= config.bin %> bench microbench/ --op Conv --json',
    '<%= config.bin %> bench fixtures/vit-tiny.onnx --dim batch=1 --force --db /tmp/dlprof.sqlite',
  ];

  static override args = { inputs: Args.string({ description: 'ONNX models, or micro-benchmark suite directories', required: true }) };
  static override strict = false;

  static override flags = {
    ...modelFlags,
    ...gpuFlags,
    ...storeFlags,
    ...measureFlags,
    force: Flags.boolean({ description: 'Measure again even when this machine already has results for a layer.' }),
    op: Flags.string({ multiple: true, multipleNonGreedy: true, description: 'Only layers of these op types (repeatable).' }),
    variant: Flags.string({ multiple: true, multipleNonGreedy: true, description: 'Only these kernel variants (repeatable).' }),
    'budget-ms': Flags.integer({ description: 'Time budget per variant measurement, in ms.', default: DEFAULT_TIMING.budgetMs, min: 50 }),
    'target-spread': Flags.string({ description: 'Stop sampling once (p90 − p10) / median is at most this.', default: String(DEFAULT_TIMING.targetSpread) }),
    conditions: Flags.string({ description: `The state each timed execution starts in: ${CONDITIONS_HELP}. Part of a result's identity in the store.`, options: [...CONDITIONS], default: DEFAULT_CONDITIONS }),
    probe: Flags.boolean({ description: "Measure the machine's peak compute and bandwidth (done automatically the first time).", allowNo: true }),
  };

  async run(): Promise<BenchResult> {
    const { argv, flags } = await this.parse(Bench);
    const spread = Number(flags['target-spread']);
    if (!(spread > 0 && spread < 1)) throw new DlprofError(`--target-spread ${flags['target-spread']}: expected a number between 0 and 1`, 'E_BAD_FLAG', EXIT.usage);
    const bindings = modelBindings(flags);
    const progress = new Progress();
    const work = loadWorkload(argv as string[], bindings, (p, i, n) => progress.step(i + 1, n, `loading ${printable(p)}`));
    const cases = flags.op ? work.cases.filter((c) => flags.op!.includes(c.layer.op)) : work.cases;
    const dbPath = flags.db ?? defaultDbPath();
    const s = await openSession({ adapter: flags.adapter, backend: flags.backend, unlock: flags['unlock-features'] }, dbPath, this.config.version);
    const { conditions, note } = effectiveConditions(flags.conditions as Conditions, s.ctx.timestamps);
    if (note) process.stderr.write(`dlprof: ${note}\n`);
    const autotune = autotuneLevel(s, flags.autotune);
    try {
      recordModels(s, work.graphs);
      await ensureProbe(s, flags.probe);
      const m = await measureCases(s, cases, {
        force: flags.force, variants: flags.variant, counts: work.counts, order: work.graphs.flatMap((g) => g.nodes.map((n) => n.key)), progress,
        timing: { ...DEFAULT_TIMING, budgetMs: flags['budget-ms'], targetSpread: spread }, conditions, autotune,
      });
      if (s.ctx.lost) {
        throw new DlprofError(`the GPU device was lost (${s.ctx.lost}) after ${m.layers.length} of ${cases.length} layers; finished measurements are stored in ${s.store.file}`,
          'E_DEVICE_LOST', EXIT.device, ['Run the same command again: measured layers are reused.']);
      }
      const all = m.layers.flatMap((l) => l.variants);
      const result: BenchResult = {
        schemaVersion: BENCH_SCHEMA_VERSION, db: s.store.file, runId: m.runId, machine: machineInfo(s),
        conditions, autotune, layers: m.layers,
        summary: {
          layers: m.layers.length, measured: m.measured, reused: m.reused, noKernel: m.layers.filter((l) => l.kernel === null).length,
          mismatches: all.filter((v) => v.status === 'mismatch').length, errors: all.filter((v) => v.status === 'errored').length, interrupted: s.interrupted,
        },
      };
      if (!this.jsonEnabled()) this.log(renderBench(result, terminalChalk()));
      if (s.interrupted) process.exitCode = EXIT.interrupted;
      return result;
    } finally {
      s.close();
    }
  }
}
