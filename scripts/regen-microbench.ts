/**
 * Regenerates `microbench/`: the de-duplicated micro-benchmark suite of the bundled full-size
 * models (built from models/ into a temporary directory). `npm run microbench`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModelBytes, MODELS } from '../models/index.js';
import { dedupe } from '../src/ir/dedupe.js';
import { loadGraph } from '../src/kernels/model.js';
import { emitSuite } from '../src/suite/emit.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.join(root, 'microbench');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-microbench-'));
const graphs = MODELS.filter((m) => !m.tiny).map((m) => {
  const file = path.join(tmp, `${m.name}.onnx`);
  fs.writeFileSync(file, buildModelBytes(m.name));
  process.stderr.write(`processing ${m.name}\n`);
  const g = loadGraph(file, { dims: new Map(Object.entries(m.dims)), shapes: new Map() });
  // Record where the model comes from, not the temporary file.
  g.path = `models:${m.name}`;
  return g;
});
fs.rmSync(path.join(out, 'layers'), { recursive: true, force: true });
const unique = dedupe(graphs);
emitSuite(out, unique, graphs);
const total = graphs.reduce((s, g) => s + g.nodes.length, 0);
console.log(`microbench/: ${unique.length} unique layers from ${total} layers in ${graphs.length} models (${graphs.map((g) => `${g.name} ${g.nodes.length}/${g.layers.size}`).join(', ')})`);
fs.rmSync(tmp, { recursive: true, force: true });
