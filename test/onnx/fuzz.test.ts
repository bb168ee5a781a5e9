/**
 * The parser and everything behind it take untrusted input: many mutated and truncated copies of
 * the fixture models must each either process or fail with a clean DlprofError — no other
 * exception, no hang.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/ir/graph.js';
import { layerFlops } from '../../src/kernels/registry.js';
import { parseModel } from '../../src/onnx/load.js';
import { inferModel } from '../../src/onnx/shapes/engine.js';
import { prng } from '../../src/onnx/write.js';
import { DlprofError } from '../../src/util/errors.js';
import { fixture } from '../support/models.js';

const SEEDS = ['resnet-tiny.onnx', 'vit-tiny.onnx', 'constant-weights.onnx', 'if-branches.onnx', 'loop-scan.onnx',
  'local-function.onnx', 'quantized.onnx', 'rnn.onnx', 'sparse-init.onnx', 'many-outputs.onnx'];
const CASES_PER_SEED = 150;
/** Generous: a tiny model processes in milliseconds; seconds would mean a hang-like blow-up. */
const MAX_MS_PER_CASE = 3000;

function mutate(src: Uint8Array, rand: () => number): Uint8Array {
  const b = Uint8Array.from(src);
  const kind = Math.floor(rand() * 5);
  const at = () => Math.floor(rand() * b.length);
  switch (kind) {
    case 0: return b.subarray(0, at()); // truncation
    case 1: { for (let i = 0, n = 1 + Math.floor(rand() * 16); i < n; i++) b[at()] = Math.floor(rand() * 256); return b; }
    case 2: { for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++) b[at()] = 0xff; return b; } // huge varints
    case 3: { const i = at(); const n = 1 + Math.floor(rand() * 64); return Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + n)]); }
    default: { const i = at(); const j = at(); const k = at(); return Uint8Array.from([...b.subarray(0, i), ...b.subarray(j, k), ...b.subarray(i)]); }
  }
}

describe('fuzzing the model processor', () => {
  for (const seed of SEEDS) {
    it(`${seed}: ${CASES_PER_SEED} mutated copies give results or clean errors`, () => {
      const src = fs.readFileSync(fixture(seed));
      const rand = prng(seed.length * 7919);
      const outcomes = { ok: 0, clean: 0 };
      for (let c = 0; c < CASES_PER_SEED; c++) {
        const buf = mutate(src, rand);
        const t0 = Date.now();
        try {
          const m = parseModel(buf, `${seed}#${c}`);
          buildGraph(m, inferModel(m, { dims: new Map([['batch', 1]]), shapes: new Map() }), layerFlops);
          outcomes.ok++;
        } catch (e) {
          if (!(e instanceof DlprofError)) {
            throw new Error(`case ${c} of ${seed} threw ${(e as Error).name}: ${(e as Error).stack}`);
          }
          expect(e.message).toContain(`${seed}#${c}`);
          expect(e.code).toMatch(/^E_[A-Z_]+$/);
          outcomes.clean++;
        }
        expect(Date.now() - t0, `case ${c} of ${seed}`).toBeLessThan(MAX_MS_PER_CASE);
      }
      expect(outcomes.ok + outcomes.clean).toBe(CASES_PER_SEED);
    });
  }
});
