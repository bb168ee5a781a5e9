import fs from 'node:fs';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { DlprofCommand } from '../cli/base.js';
import { modelFlags, parseBindings } from '../cli/flags.js';
import { storeFlags } from '../cli/gpu-flags.js';
import { loadGraph } from '../kernels/model.js';
import { defaultDbPath, Store } from '../store/db.js';
import { exportResults } from '../store/exchange.js';
import { machineName, resolveMachine } from '../store/machines.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';

export const EXPORT_SCHEMA_VERSION = 1;

export interface ExportSummary {
  schemaVersion: number;
  file: string;
  db: string;
  machines: Array<{ fingerprint: string; name: string }>;
  layers: number;
  runs: number;
  measurements: number;
  probes: number;
}

export default class Export extends DlprofCommand {
  static override summary = "Write a store's results to a portable file that dlprof import reads on another machine.";
  static override description = 'The file (JSON, schemas/results-file.schema.json) holds the machines with their probes, the layers by content key, '
    + 'and every measurement with its raw samples, conditions, kernel identity and origin. --machine and --model narrow it.';

  static override examples = [
    '<%= config.bin %> export results.json',
    '<%= config.bin %> export h200.json --machine h200 --model models/out/vit-b16.onnx --dim batch=1',
  ];

  static override args = { file: Args.string({ description: 'The file to write (- for stdout)', required: true }) };

  static override flags = {
    ...storeFlags,
    ...modelFlags,
    machine: Flags.string({ multiple: true, multipleNonGreedy: true, description: "Only this machine's results: its fingerprint, or part of its name (see dlprof machines; repeatable)." }),
    model: Flags.string({ multiple: true, multipleNonGreedy: true, description: "Only the layers of this ONNX model (repeatable; --dim/--shape bind its dimensions)." }),
  };

  async run(): Promise<ExportSummary> {
    const { args, flags } = await this.parse(Export);
    if (args.file !== '-' && fs.existsSync(args.file) && fs.statSync(args.file).isDirectory()) {
      throw new DlprofError(`${printable(args.file)}: is a directory; export writes a file`, 'E_BAD_FLAG', EXIT.usage);
    }
    const bindings = parseBindings(flags.dim, flags.shape);
    // The models first: a bad model file stops before the store is opened.
    const layerKeys = flags.model ? new Set(flags.model.flatMap((m) => loadGraph(m, bindings).nodes.map((n) => n.key))) : undefined;
    const store = Store.open(flags.db ?? defaultDbPath());
    try {
      const machines = flags.machine?.map((m) => resolveMachine(store, m));
      const doc = exportResults(store, { machines, layerKeys, dlprofVersion: this.config.version });
      const text = `${JSON.stringify(doc)}\n`;
      if (args.file === '-') process.stdout.write(text);
      else {
        // Written beside the target and renamed: a reader never sees half a file.
        const tmp = path.join(path.dirname(path.resolve(args.file)), `.${path.basename(args.file)}.${process.pid}.tmp`);
        fs.writeFileSync(tmp, text);
        fs.renameSync(tmp, args.file);
      }
      const summary: ExportSummary = {
        schemaVersion: EXPORT_SCHEMA_VERSION, file: args.file, db: store.file,
        machines: doc.machines.map((m) => ({ fingerprint: m.fingerprint, name: machineName(m) })),
        layers: doc.layers.length, runs: doc.runs.length, measurements: doc.measurements.length, probes: doc.machines.reduce((a, m) => a + m.probes.length, 0),
      };
      if (!this.jsonEnabled() && args.file !== '-') {
        this.log(`wrote ${printable(args.file)}: ${summary.machines.length} machines, ${summary.layers} layers, ${summary.measurements} measurements, ${summary.probes} probes`);
      }
      return summary;
    } finally {
      store.close();
    }
  }
}
