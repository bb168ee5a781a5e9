/** measureCases (src/store/session.ts): the conditions its measurements are taken and stored under. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMING } from '../../src/bench/harness.js';
import { effectiveConditions } from '../../src/bench/measure.js';
import { measureCases, openSession } from '../../src/store/session.js';
import { casesFrom } from '../support/kernels.js';
import { tempDir } from '../support/tmp.js';

describe('measurement conditions on a device without GPU timestamps', () => {
  it('inference falls back to cold-weights, and says so; other conditions stay', () => {
    expect(effectiveConditions('inference', true)).toEqual({ conditions: 'inference' });
    const { conditions, note } = effectiveConditions('inference', false);
    expect(conditions).toBe('cold-weights');
    expect(note).toMatch(/no GPU timestamps.*'cold-weights'.*not 'inference'/);
    for (const k of ['cold-weights', 'warm', 'cold'] as const) expect(effectiveConditions(k, false)).toEqual({ conditions: k });
  });

  it('measureCases stores what it timed by the wall clock as cold-weights, never as inference, and reuses it when inference is asked again', async () => {
    const s = await openSession({}, join(tempDir(), 'session.sqlite'), 'test');
    try {
      s.ctx.timestamps = false; // as on an adapter without timestamp-query
      const [c] = casesFrom((b) => {
        const x = b.input('x', 'float32', [8, 64]);
        const w = b.init('w', 'float32', [64, 256], Float32Array.from({ length: 64 * 256 }, (_, i) => ((i * 7) % 11) / 11 - 0.5));
        b.output(b.op('MatMul', [x, w]));
      });
      const timing = { ...DEFAULT_TIMING, budgetMs: 200, minTimeMs: 20 };
      const first = await measureCases(s, [c], { conditions: 'inference', timing });
      expect(first.measured).toBeGreaterThan(0);
      expect(first.layers[0].variants.filter((v) => v.status === 'completed').length).toBeGreaterThan(0);
      const stored = s.store.latestForLayer(s.machineId, c.layer.key, 'cold-weights');
      expect(stored.map((r) => r.variant).sort()).toEqual(first.layers[0].variants.map((v) => v.variant).sort());
      expect(s.store.latestForLayer(s.machineId, c.layer.key, 'inference')).toEqual([]);

      const again = await measureCases(s, [c], { conditions: 'inference', timing });
      expect(again.measured).toBe(0);
      expect(again.reused).toBe(first.measured);
    } finally {
      s.close();
    }
  });
});

describe('measuring in inference rounds', () => {
  it('stores each layer as its variants settle and reports the layers in the order given', async () => {
    const s = await openSession({}, join(tempDir(), 'rounds.sqlite'), 'test');
    try {
      const cases = casesFrom((b) => {
        const x = b.input('x', 'float32', [8, 64]);
        const h = b.op('Relu', [b.op('MatMul', [x, b.init('w', 'float32', [64, 32])])]);
        b.output(b.op('Sigmoid', [h]));
      });
      const timing = { ...DEFAULT_TIMING, budgetMs: 150, minTimeMs: 10 };
      // Rows are written while the rounds still run (a kill then loses only the unsettled layers):
      // note, for every row, whether a timeRounds call was in progress.
      let inRounds = false;
      const rounds = s.timer.timeRounds.bind(s.timer);
      s.timer.timeRounds = async (...a) => { inRounds = true; try { return await rounds(...a); } finally { inRounds = false; } };
      const during: boolean[] = [];
      const insert = s.store.insertMeasurement.bind(s.store);
      s.store.insertMeasurement = (m) => { insert(m); if (m.status === 'completed') during.push(inRounds); };
      const out = await measureCases(s, cases, { conditions: 'inference', timing, order: cases.map((c) => c.layer.key) });
      expect(out.layers.map((l) => l.key)).toEqual(cases.map((c) => c.layer.key));
      expect(out.measured).toBeGreaterThanOrEqual(cases.length);
      expect(during.length).toBeGreaterThanOrEqual(cases.length);
      expect(during.every(Boolean)).toBe(true);
      for (const c of cases) {
        const rows = s.store.latestForLayer(s.machineId, c.layer.key, 'inference');
        expect(rows.length).toBeGreaterThan(0);
        expect(rows.filter((r) => r.status === 'completed').every((r) => /^[0-9a-f]{16}$/.test(r.kernelHash ?? ''))).toBe(true);
      }
    } finally {
      s.close();
    }
  });
});
