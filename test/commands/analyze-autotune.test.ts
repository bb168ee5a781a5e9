/**
 * `dlprof analyze --autotune` on a store that already holds the layers untuned (slow: end to end
 * on lavapipe): layers that still want tuning are measured, so the model's stored runs are not
 * reused beside them; once tuned, a second analysis at the same effort measures and runs nothing.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { saveModel, tempDir } from '../support/models.js';

const FAST = ['--budget-ms', '80', '--runs', '3', '--run-budget-ms', '0', '--no-probe', '--no-framework', '--json'];

describe('dlprof analyze --autotune (slow: end-to-end on lavapipe)', () => {
  it('measures again while layers wait for tuning, and reuses the model runs once they are tuned', async () => {
    const w = Float32Array.from({ length: 64 * 96 }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
    const file = saveModel((b) => b.output(b.op('Relu', [b.op('MatMul', [b.input('x', 'float32', [48, 64]), b.init('w', 'float32', [64, 96], w)])])));
    const db = path.join(tempDir(), 'autotune.sqlite');
    const analyze = async (...extra: string[]) => {
      const r = await dlprof(['analyze', file, '--db', db, ...FAST, ...extra]);
      expect(r.status, r.stderr.slice(-2000)).toBe(0);
      return r.json();
    };
    const phases = (doc: { analysisTime: { phases: Array<{ phase: string }> } }): string[] => doc.analysisTime.phases.map((p) => p.phase);
    const matmul = (doc: { layers: Array<{ op: string; bestConfig: Record<string, number> | null }> }) => doc.layers.find((l) => l.op === 'MatMul')!;

    const untuned = await analyze('--autotune', 'off');
    expect(untuned.autotune).toBe('off');
    expect(matmul(untuned).bestConfig).toBeNull();
    const kinds = (doc: { reused: Array<{ kind: string }> }): string[] => doc.reused.map((x) => x.kind);
    expect(kinds(await analyze('--autotune', 'off'))).toContain('end-to-end');

    // The MatMul's tunable variant has no tuned results yet: it is measured, and so is the model.
    const tuning = await analyze('--autotune', 'quick');
    expect(tuning.autotune).toBe('quick');
    expect(tuning.reused).toEqual([]);
    expect(phases(tuning)).toContain('timing');
    expect(phases(tuning)).toContain('end-to-end');

    // Tuned now: nothing is measured or run, the runs just stored are reused.
    const tuned = await analyze('--autotune', 'quick');
    expect(kinds(tuned)).toContain('end-to-end');
    expect(phases(tuned)).toEqual(['parse']);
    expect(tuned.latency).toEqual(tuning.latency);
  });
});
