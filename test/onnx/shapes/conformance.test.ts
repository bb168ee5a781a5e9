/**
 * ONNX's node conformance suite as the oracle for shape and dtype inference (and, where shape math
 * folds to constants, for the folded values). Fails on any regression against the committed
 * baseline of passing cases; prints the pass count over all cases and per op, and every skip
 * reason. Regenerate the baseline with `npx tsx test/support/conformance-cli.ts --baseline`.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFORMANCE_DIR, perOp, runAll, type CaseResult } from '../../support/conformance.js';

const baseline: string[] = JSON.parse(fs.readFileSync(new URL('./conformance-baseline.json', import.meta.url), 'utf8'));

describe('ONNX conformance suite: inferred output dtypes and shapes', () => {
  it(`is installed at ${CONFORMANCE_DIR}`, () => {
    expect(fs.existsSync(CONFORMANCE_DIR), 'install Debian package libonnx-testdata (scripts/setup-system.sh does)').toBe(true);
  });

  let results: CaseResult[] = [];
  it('runs every case and passes every case of the baseline', () => {
    results = runAll();
    const byName = new Map(results.map((r) => [r.name, r]));
    const pass = results.filter((r) => r.status === 'pass');
    const fail = results.filter((r) => r.status === 'fail');
    const skip = results.filter((r) => r.status === 'skip');
    const reasons = new Map<string, number>();
    for (const s of skip) {
      const reason = s.reason ?? '';
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    const ops = [...perOp(results)].sort(([a], [b]) => a.localeCompare(b)).map(([op, c]) => `${op} ${c.pass}/${c.total}`);
    console.log([
      `conformance: ${pass.length} passed, ${fail.length} failed, ${skip.length} skipped of ${results.length} cases`,
      `per op (supported ops): ${ops.join(', ')}`,
      `failing: ${fail.map((f) => `${f.name} (${f.reason})`).join('; ') || 'none'}`,
      `skipped, by reason: ${[...reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n}× ${r}`).join('; ')}`,
    ].join('\n'));
    const regressed = baseline.filter((name) => byName.get(name)?.status !== 'pass')
      .map((name) => `${name}: ${byName.get(name)?.reason ?? 'missing'}`);
    expect(regressed).toEqual([]);
    expect(pass.length).toBeGreaterThanOrEqual(baseline.length);
  });
});
