/**
 * Writes the registry's models as ONNX files.
 *
 *   node dist/models/build.js [--out DIR] [--large SIZE] [names…]
 *
 * Without names, every registered model is written. `--large 512M` (suffixes K, M, G; powers of
 * 1024) also writes `large-512M.onnx` for the parse benchmark. DIR defaults to models/out/ in the
 * repository (gitignored).
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeLargeModel } from './large.js';
import { isMain, repoRoot } from './common.js';
import { findModel, MODELS, toBytes } from './index.js';

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}' (examples: 512M, 1G, 1048576)`);
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Math.round(Number(m[1]) * mult);
}

function mb(n: number): string {
  return `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 1)} MiB`;
}

function main(argv: string[]): void {
  let out = path.join(repoRoot(), 'models', 'out');
  let large: string | undefined;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') out = path.resolve(argv[++i] ?? '');
    else if (a === '--large') large = argv[++i];
    else if (a === '-h' || a === '--help') {
      console.log('usage: node dist/models/build.js [--out DIR] [--large SIZE] [names…]');
      console.log(`models: ${MODELS.map((m) => m.name).join(', ')}`);
      return;
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else names.push(a);
  }
  const chosen = names.length ? names : large ? [] : MODELS.map((m) => m.name);
  const entries = chosen.map((n) => {
    const m = findModel(n);
    if (!m) throw new Error(`unknown model '${n}'; known: ${MODELS.map((x) => x.name).join(', ')}`);
    return m;
  });
  fs.mkdirSync(out, { recursive: true });
  const t0 = performance.now();
  for (const m of entries) {
    const t = performance.now();
    const built = m.build();
    const bytes = toBytes(built);
    const file = path.join(out, `${m.name}.onnx`);
    fs.writeFileSync(file, bytes);
    const dims = Object.entries(built.dims).map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(`${file}  ${mb(bytes.length).padStart(10)}  ${String(built.graph.nodes.length).padStart(5)} nodes  ` +
      `${((performance.now() - t) / 1000).toFixed(2)} s${dims ? `  (dims: ${dims})` : ''}`);
  }
  if (large) {
    const t = performance.now();
    const file = path.join(out, `large-${large}.onnx`);
    const n = writeLargeModel(file, parseSize(large));
    console.log(`${file}  ${mb(n).padStart(10)}  ${((performance.now() - t) / 1000).toFixed(2)} s`);
  }
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(2)} s`);
}

if (isMain(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(2);
  }
}
