/** PassTimestamps (src/gpu/timestamps.ts): one begin/end pair per pass, read back relative to the first pass. */
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticInputs } from '../../src/kernels/inputs.js';
import { PassTimestamps } from '../../src/gpu/timestamps.js';
import { kernelFor } from '../../src/kernels/registry.js';
import { casesFrom, gpu, releaseGpu } from '../support/kernels.js';

afterAll(releaseGpu);

describe('pass timestamps', () => {
  it('time each pass, in order, and can be reused for fewer passes', async () => {
    const { runner } = await gpu();
    const [c] = casesFrom((b) => b.output(b.op('Relu', [b.input('x', 'float32', [64, 1024])])));
    const kernel = kernelFor(c.layer.op)!;
    const p = await runner.prepare(kernel, c, kernel.plan(c, kernel.defaultVariant(c), runner.caps), syntheticInputs(c, 1), 'relu');
    const stamps = new PassTimestamps(runner.device, 3, 'test');
    const timed = async (passes: number): Promise<Array<[number, number]>> => {
      const enc = runner.device.createCommandEncoder();
      for (let i = 0; i < passes; i++) runner.encode(p, enc, stamps.writes(i));
      stamps.encodeResolve(enc, passes);
      runner.device.queue.submit([enc.finish()]);
      return stamps.read(passes);
    };
    for (const passes of [3, 2]) {
      const t = await timed(passes);
      expect(t.length).toBe(passes);
      expect(t[0][0]).toBe(0);
      for (const [i, [begin, end]] of t.entries()) {
        expect(end).toBeGreaterThan(begin);
        if (i > 0) expect(begin).toBeGreaterThanOrEqual(t[i - 1][1]);
      }
    }
    stamps.destroy();
    runner.release(p);
  });
});
