/**
 * `bench:gpu --quick` on lavapipe (slow: about two minutes here): every step runs, at most 8 files
 * come back, and the JSON ones are the commands' documents.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../support/models.js';
import { schemaErrors } from '../support/schema.js';

/** Runs the script without blocking the worker (a synchronous spawn stalls vitest's RPC). */
function gpuBench(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'dist/bench/gpu.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], timeout: 1_000_000 });
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('bench:gpu (slow: the quick set on lavapipe)', () => {
  it('runs every step within its deadline and writes at most 8 files', async () => {
    const dir = path.join(tempDir(), 'bench-gpu');
    const r = await gpuBench([dir, '--quick']);
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
    const files = fs.readdirSync(dir).sort();
    expect(files.length).toBeLessThanOrEqual(8);
    expect(files).toEqual(['accuracy-tiny.txt', 'analyze-sparse-dnn-tiny.json', 'devices.json', 'kernels.txt', 'log.txt', 'special.txt', 'summary.json']);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.steps.map((s: { status: string }) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(summary.seconds).toBeLessThan(480);
    const devices = JSON.parse(fs.readFileSync(path.join(dir, 'devices.json'), 'utf8'));
    expect(schemaErrors('devices', devices.default)).toBe('');
    expect(schemaErrors('devices', devices.unlocked)).toBe('');
    expect([devices.default.unlocked, devices.unlocked.unlocked]).toEqual([false, true]);
    const analyze = JSON.parse(fs.readFileSync(path.join(dir, 'analyze-sparse-dnn-tiny.json'), 'utf8'));
    expect(schemaErrors('analyze', analyze)).toBe('');
    expect(analyze.framework.kernelMs).toBeGreaterThan(0);
    expect(analyze.framework.hostMs).toBeGreaterThan(0);
    expect(fs.readFileSync(path.join(dir, 'accuracy-tiny.txt'), 'utf8')).toMatch(/sparse-dnn-tiny +16 /);
    expect(fs.readFileSync(path.join(dir, 'kernels.txt'), 'utf8')).toMatch(/Softmax 12×197×197 \(ViT\) +\S+ \d+\.\d{3}/);
    expect(fs.readFileSync(path.join(dir, 'special.txt'), 'utf8')).toContain('## neighborhood attention 1-D');
  });

  it('refuses a missing output directory or an unknown option', async () => {
    const none = await gpuBench([]);
    expect(none.status).not.toBe(0);
    expect(none.stderr).toContain('usage: bench:gpu DIR');
    const bad = await gpuBench([tempDir(), '--fast']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('unknown option --fast');
  });
});
