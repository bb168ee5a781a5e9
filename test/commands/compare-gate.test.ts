import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { fixture, tempDir } from '../support/models.js';
import { schemaErrors } from '../support/schema.js';

/** resnet-tiny's default variants (42 unique layers): what a model runs, and what the gate watches. */
const DEFAULTS = ['naive', '1x1-gemm', 'implicit-gemm', 'copy-vec4'].flatMap((v) => ['--variant', v]);

/** What a failed expectation shows: the run's noise and what was called. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const why = (d: any) => ({ runNoise: d.runNoise, summary: d.summary, ops: d.byOp.map((o: any) => [o.op, o.relativeChange, o.ci, o.verdict]),
  layers: d.layers.filter((l: any) => l.verdict === 'regression').map((l: any) => [l.op, l.key, l.change, l.ci]) });

/** One `bench --json` of resnet-tiny on this machine, measured afresh, written to `name`. */
async function bench(name: string, env: Record<string, string> = {}): Promise<string> {
  const db = path.join(tempDir(), 'gate.sqlite');
  const r = await dlprof(['bench', fixture('resnet-tiny.onnx'), ...DEFAULTS, '--force', '--db', db, '--json'], env);
  expect(r.status, r.stderr).toBe(0);
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, r.stdout);
  return file;
}

// `npm test` runs this file on its own after the others: its reruns judge the machine's drift,
// which other test files compiling beside it on a small machine would be.
describe('the regression gate (real reruns on this machine)', () => {
  it('passes the same code benchmarked twice, and catches a kernel given 15 % more work', async () => {
    const base = await bench('base.json');
    const same = await bench('same.json');
    expect(JSON.parse(fs.readFileSync(base, 'utf8')).layers[0].variants.find((v: { samplesMs?: number[] }) => v.samplesMs)?.samplesMs.length).toBeGreaterThan(1);

    const ok = await dlprof(['compare', base, same, '--fail-on', 'regression', '--json']);
    const doc = ok.json();
    expect(ok.status, JSON.stringify(why(doc))).toBe(0);
    expect(schemaErrors('compare', doc)).toBe('');
    expect(doc.mode).toBe('reports');
    expect(doc.summary.shared).toBeGreaterThanOrEqual(20);
    expect(doc.runNoise.estimated).toBe(true);
    expect(doc.summary).toMatchObject({ regressions: 0, opRegressions: 0 });
    expect(doc.regression).toBe(false);

    // A change much smaller than the machine's own drift between two runs is not called (the gate
    // widens its intervals by that drift and by the layers' run-to-run scatter): when the machine's
    // speed moved by more than a tenth between the two, or its layers scattered by more than 8 %
    // (other test files running beside this one: 11 % once), a new pair is benchmarked back to
    // back, up to three pairs.
    let [before, slower] = [base, ''];
    let caught = await dlprof(['--version']);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) before = await bench(`base-${attempt}.json`);
      slower = await bench(`slower-${attempt}.json`, { DLPROF_TEST_EXTRA_WORK: 'conv:0.15' });
      caught = await dlprof(['compare', before, slower, '--fail-on', 'regression', '--json']);
      const noise = caught.json().runNoise;
      if (Math.abs(noise.shift) < 0.1 && noise.sigma < 0.08) break;
    }
    const d2 = caught.json();
    expect(Math.abs(d2.runNoise.shift), 'the machine drifted more than 10 % in each of three pairs').toBeLessThan(0.1);
    expect(caught.status, JSON.stringify(why(d2))).toBe(8);
    expect(schemaErrors('compare', d2)).toBe('');
    expect(d2.regression).toBe(true);
    // What regressed is the slowed kernel's op, and nothing else.
    const regressed = [...d2.byOp.filter((o: { verdict: string }) => o.verdict === 'regression').map((o: { op: string }) => o.op),
      ...d2.layers.filter((l: { verdict: string }) => l.verdict === 'regression').map((l: { op: string }) => l.op)];
    expect(regressed).toContain('Conv');
    expect(new Set(regressed)).toEqual(new Set(['Conv']));
    const conv = d2.byOp.find((o: { op: string }) => o.op === 'Conv');
    expect(conv.ratio).toBeGreaterThan(1.05);

    // The CI summary and the terminal table.
    const md = await dlprof(['compare', before, slower, '--fail-on', 'regression', '--markdown']);
    expect(md.status).toBe(8);
    expect(md.stdout).toMatch(/^### dlprof compare: ❌ regression/);
    expect(md.stdout).toMatch(/\| Conv \| \d+ \| .* \| \*\*regression\*\* \|/);
    const table = await dlprof(['compare', base, same]);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/42 shared layers: 0 regressions/);
  });

  it('refuses what it cannot compare', async () => {
    const notJson = await dlprof(['compare', fixture('resnet-tiny.onnx'), fixture('resnet-tiny.onnx'), '--json']);
    expect(notJson.status).toBe(3);
    expect(notJson.json().error.code).toBe('E_COMPARE_INPUT');
    const one = await dlprof(['compare', fixture('resnet-tiny.onnx'), '--json']);
    expect(one.status).toBe(2);
    const threshold = await dlprof(['compare', 'a.json', 'b.json', '--threshold', 'lots', '--json']);
    expect(threshold.status).toBe(2);
    expect(threshold.json().error.message).toContain('--threshold lots');
  });
});
