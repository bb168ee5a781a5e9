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
