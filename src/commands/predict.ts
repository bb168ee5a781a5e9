import { Args, Flags } from '@oclif/core';
import { DlprofCommand } from '../cli/base.js';
import { modelFlags, parseBindings } from '../cli/flags.js';
import { storeFlags } from '../cli/gpu-flags.js';
import { predict } from '../analysis/predict.js';
import { CONDITIONS, DEFAULT_CONDITIONS } from '../bench/measure.js';
import { loadGraph } from '../kernels/model.js';
import { kernelFor } from '../kernels/registry.js';
import { PREDICT_SCHEMA_VERSION, renderPredict, type PredictResult } from '../report/predict.js';
import { defaultDbPath, Store } from '../store/db.js';
import { resolveMachine } from '../store/machines.js';
import { terminalChalk } from '../util/color.js';

export default class Predict extends DlprofCommand {
  static override summary = "Predict a model's latency on another machine from that machine's stored layer measurements, without running anything.";
  static override description = 'Sums the default-variant times the store holds for the machine (its own, or imported with dlprof import) over the '
    + "model's layers, as analyze reconstructs latency, and reports the sequential and parallel lower bounds, what share of the model's time "
    + 'the measured layers cover, and which layers are missing there.';

  static override examples = [
    '<%= config.bin %> predict fixtures/resnet-tiny.onnx --machine h200',
    '<%= config.bin %> predict models/out/vit-b16.onnx --dim batch=1 --machine 99c7f1b6 --json',
  ];

  static override args = { model: Args.string({ description: 'ONNX model file', required: true }) };

  static override flags = {
    ...modelFlags,
    ...storeFlags,
    machine: Flags.string({ description: 'The machine to predict for: its fingerprint, or part of its name (see dlprof machines).', required: true }),
    conditions: Flags.string({ description: 'Which of its measurements to use: those timed under these conditions.', options: [...CONDITIONS], default: DEFAULT_CONDITIONS }),
  };

  async run(): Promise<PredictResult> {
    const { args, flags } = await this.parse(Predict);
    const g = loadGraph(args.model, parseBindings(flags.dim, flags.shape));
    const consts = (key: string) => g.origins.get(key)!.constValues;
    const store = Store.open(flags.db ?? defaultDbPath());
    try {
      const machine = resolveMachine(store, flags.machine);
      const probe = (k: string): number | undefined => store.latestProbe(machine.id, k)?.value;
      const passOverheadMs = probe('pass-overhead') ?? 0;
      const p = predict({
        graph: g,
        defaultVariant: (layer) => kernelFor(layer.op)?.defaultVariant({ layer, consts: consts(layer.key) }) ?? '',
        stored: (key) => store.latestForLayer(machine.id, key, flags.conditions).map((r) => ({ variant: r.variant, status: r.status, samplesMs: r.samplesMs ?? null, medianMs: r.medianMs ?? null, tuned: !!r.config })),
        passOverheadMs,
        peaks: { gflops: probe('fma-f32'), gbps: probe('copy') },
      });
      const notes: string[] = [];
      if (g.unsupported.length) notes.push(`unsupported ops (no time): ${g.unsupported.map((u) => `${u.op} ×${u.count}`).join(', ')}`);
      if (p.coverage.measuredUniqueLayers === 0) notes.push(`the machine has no ${flags.conditions} measurement of this model's layers: run dlprof bench on it (or import its results)`);
      if (probe('pass-overhead') === undefined) notes.push('the machine has no pass-overhead probe: layer times are taken as measured, which overstates a model run');
      const result: PredictResult = {
        schemaVersion: PREDICT_SCHEMA_VERSION, db: store.file, model: { path: g.path, name: g.name },
        machine: { fingerprint: machine.fingerprint, name: machine.name, adapterDescription: machine.adapterDescription, backend: machine.backend, cpu: machine.cpu },
        conditions: flags.conditions, passOverheadMs, ...p, notes,
      };
      if (!this.jsonEnabled()) this.log(renderPredict(result, terminalChalk()));
      return result;
    } finally {
      store.close();
    }
  }
}
