/**
 * `bench:special` with `--autotune` (slow: about a minute on lavapipe): attention's variants and
 * its fastest tunable variant in its fastest configuration, each checked against the reference
 * before it is timed, as rows of one table with their speed-ups.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/models.js';

/** Runs the script without blocking the worker (a synchronous spawn stalls vitest's RPC). */
function special(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'dist/bench/special.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString('utf8'); });
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('bench:special --autotune (slow)', () => {
  it("adds each layer's tuned attention block as a row of its own, with its speed-up", async () => {
    const r = await special(['--only', 'attention', '--autotune', 'quick', '--budget', '30']);
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
    // The group named exactly, not every group containing the word.
    expect(r.stdout).not.toMatch(/neighborhood attention/);
    const rows = r.stdout.split('\n').filter((l) => l.includes('fused-tiled BR'));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatch(/fused-tiled BR\d+ BC\d+ TY\d+ TX\d+( SG1)?\s+\d+\.\d+\s+\d+\.\d+×/);
    expect(r.stdout).toMatch(/attention: fused-tiled tuned vs unfused: \d+\.\d+× over 2 layers/);
  });

  it('refuses an unknown effort, naming the flag', async () => {
    const r = await special(['--autotune', 'lots']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--autotune lots: expected one of off, quick, full/);
  });
});
