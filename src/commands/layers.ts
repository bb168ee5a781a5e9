import { Args, Flags } from '@oclif/core';
import { DlprofCommand } from '../cli/base.js';
import { modelBindings, modelFlags } from '../cli/flags.js';
import { dedupe } from '../ir/dedupe.js';
import type { ModelGraph } from '../ir/graph.js';
import { loadGraph } from '../kernels/model.js';
import { layersResult, renderLayers, type LayersResult } from '../report/layers.js';
import { emitSuite } from '../suite/emit.js';
import { terminalChalk } from '../util/color.js';
import { printable } from '../util/errors.js';
import { Progress } from '../util/progress.js';

export default class Layers extends DlprofCommand {
  static override summary = 'List the unique layers of one or more ONNX models, with FLOPs, bytes and counts.';
  static override description = 'Parses each model, infers every shape (folding the shape arithmetic), and de-duplicates '
    + 'layers by a canonical key, so a layer shared by several models, or repeated in one, is listed (and later '
    + 'benchmarked) once. --emit writes the runnable micro-benchmark suite.';

  static override examples = [
    '<%= config.bin %> layers fixtures/resnet-tiny.onnx',
    '<%= config.bin %> layers fixtures/duplicates-a.onnx fixtures/duplicates-b.onnx --json',
    '<%= config.bin %> layers fixtures/vit-tiny.onnx --dim batch=1 --emit /tmp/suite',
    '<%= config.bin %> layers fixtures/unnamed-dims.onnx --shape input=1x3x32x32',
  ];

  static override args = {
    models: Args.string({ description: 'ONNX model files', required: true }),
  };

  static override strict = false;

  static override flags = {
    ...modelFlags,
    emit: Flags.directory({ description: 'Write the micro-benchmark suite (a spec and a single-node ONNX model per unique layer, plus index.json) into this directory.' }),
  };

  async run(): Promise<LayersResult> {
    const { argv, flags } = await this.parse(Layers);
    const files = argv as string[];
    const bindings = modelBindings(flags);
    const progress = new Progress(files.length > 1);
    const graphs: ModelGraph[] = [];
    files.forEach((f, i) => {
      progress.step(i + 1, files.length, `parsing ${printable(f)}`);
      graphs.push(loadGraph(f, bindings));
    });
    progress.done();
    const unique = dedupe(graphs);
    const result = layersResult(graphs, unique);
    if (flags.emit) {
      emitSuite(flags.emit, unique, graphs);
      result.emitted = { dir: flags.emit, layers: unique.length };
    }
    if (!this.jsonEnabled()) this.log(renderLayers(result, terminalChalk()));
    return result;
  }
}
