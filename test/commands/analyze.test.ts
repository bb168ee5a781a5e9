/**
 * `dlprof analyze` end to end on lavapipe (slow cases, named as such): the latency ladder, the
 * output check against onnxruntime, the JSON contract, the HTML page in headless Chromium, the
 * Chrome trace, and escaping of names taken from the model.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { fixture, ROOT, tempDir } from '../support/models.js';
import { schemaErrors } from '../support/schema.js';
import { trimmedMean } from '../../src/bench/stats.js';

const FAST = ['--budget-ms', '80', '--runs', '3', '--run-budget-ms', '0', '--no-probe'];
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('dlprof analyze (slow: end-to-end on lavapipe)', () => {
  const db = path.join(tempDir(), 'analyze.sqlite');
  const count = (sql: string): number => {
    const conn = new Database(db, { readonly: true });
    try {
      return (conn.prepare(sql).get() as { n: number }).n;
    } finally {
      conn.close();
    }
  };
  const passOverheadProbes = (): number => count("SELECT COUNT(*) AS n FROM probe WHERE kind = 'pass-overhead'");
  const modelRuns = (kind: string): number => count(`SELECT COUNT(*) AS n FROM model_run WHERE kind = '${kind}'`);
  /** The first analysis's document: what a later one reuses. */
  let first: any; // eslint-disable-line @typescript-eslint/no-explicit-any

  it('reports measured, reconstructed, lower-bound, ideal and framework latency for a CNN', async () => {
    const html = path.join(tempDir(), 'resnet.html');
    const trace = path.join(tempDir(), 'resnet-trace.json');
    const r = await dlprof(['analyze', fixture('resnet-tiny.onnx'), '--db', db, ...FAST, '--probe', '--html', html, '--trace', trace, '--json']);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const doc = first = r.json();
    expect(schemaErrors('analyze', doc)).toBe('');
    expect(doc.reused).toEqual([]);
    expect(modelRuns('end-to-end')).toBe(1);
    expect(modelRuns('framework')).toBe(1);
    const L = doc.latency;
    expect(doc.correctness.ok).toBe(true);
    expect(doc.conditions).toBe('inference');
    expect(L.measuredMs).toBeGreaterThan(0);
    expect(L.measuredSpread).toBeGreaterThanOrEqual(0); // a number: (p90 − p10) / median of the runs
    // Layers were benchmarked (empty store): the model ran between them and after them.
    expect(r.stderr).toContain('end-to-end runs between the layer benchmarks');
    expect(L.measuredBeforeMs).toBeNull();
    expect(L.measuredDuringMs).toBeGreaterThan(0);
    expect(L.measuredAfterMs).toBeGreaterThan(0);
    expect(L.measuredMs).toBe(L.measuredDuringMs);
    expect(L.drift).toBeCloseTo((L.measuredAfterMs - L.measuredDuringMs) / L.measuredDuringMs, 9);
    expect(L.reconstructedMs).toBeGreaterThan(0);
    expect(Math.abs(L.reconstructionError)).toBeLessThan(1); // a sanity bound; bench:accuracy measures it properly
    expect(L.sequentialLowerBoundMs).toBeLessThanOrEqual(L.reconstructedMs + 1e-9);
    expect(L.parallelLowerBoundMs).toBeLessThanOrEqual(L.sequentialLowerBoundMs + 1e-9);
    expect(L.idealMs).toBeLessThanOrEqual(L.parallelLowerBoundMs + 1e-9);
    expect(L.frameworkMs).toBeGreaterThan(0);
    // onnxruntime's run split by its profiler: GPU kernels and host, per node matched to the layers.
    const fw = doc.framework;
    expect(fw.wallMs).toBe(L.frameworkMs);
    expect(fw.profileError).toBeNull();
    expect(fw.kernelMs).toBeGreaterThan(0);
    expect(fw.hostMs).toBeGreaterThan(0);
    expect(fw.hostMs).toBeCloseTo(fw.profiledWallMs - fw.kernelMs, 9);
    expect(fw.nodes.reduce((a: number, n: { dispatches: number }) => a + n.dispatches, 0)).toBe(fw.dispatches);
    expect(fw.nodes.flatMap((n: { layers: string[] }) => n.layers).sort()).toEqual(doc.layers.map((l: { node: string }) => l.node).sort());
    expect(doc.layers).toHaveLength(doc.model.layerCount);
    // Each layer's time is the trimmed mean of its default variant's stored samples, less the pass
    // overhead; the reconstruction is their sum over every node.
    const po = doc.machine.peaks.passOverheadMs as number;
    const conn = new Database(db, { readonly: true });
    const stored = (key: string, variant: string): number[] => JSON.parse((conn.prepare('SELECT samples_ms FROM measurement WHERE layer_key = ? AND variant = ?')
      .get(key, variant) as { samples_ms: string }).samples_ms);
    const want = doc.layers.map((l: { key: string; defaultVariant: string }) => {
      const ms = trimmedMean(stored(l.key, l.defaultVariant));
      return Math.max(ms - po, ms / 10);
    });
    conn.close();
    expect(doc.layers.map((l: { defaultMs: number }) => l.defaultMs)).toEqual(want);
    expect(L.reconstructedMs).toBeCloseTo(want.reduce((a: number, b: number) => a + b, 0), 9);
    expect(doc.layers.every((l: { runMs: number }) => l.runMs > 0)).toBe(true);
    expect(doc.byOp.map((o: { op: string }) => o.op)).toContain('Conv');
    expect(doc.byOp.reduce((s: number, o: { pct: number }) => s + o.pct, 0)).toBeCloseTo(100, 5);
    for (const s of doc.suggestions) expect(s.savingPct).toBeCloseTo((100 * s.savingMs) / (s.kind.startsWith('framework') ? L.frameworkMs : L.measuredMs), 6);

    const events = JSON.parse(fs.readFileSync(trace, 'utf8')).traceEvents.filter((e: { ph: string }) => e.ph === 'X');
    expect(events).toHaveLength(doc.model.layerCount);
    expect(events[0].args.op).toBeTruthy();
    expect(events[0].args.variant).toBeTruthy();
    expect(fs.readFileSync(html, 'utf8')).toContain('<svg');
  });

  it('reuses the stored end-to-end and onnxruntime runs when every layer comes from the store, running neither', async () => {
    const r = await dlprof(['analyze', fixture('resnet-tiny.onnx'), '--db', db, ...FAST, '--json']);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const doc = r.json();
    expect(schemaErrors('analyze', doc)).toBe('');
    // Nothing ran: no end-to-end runs, no onnxruntime (neither its CPU check nor its WebGPU run), no layer checked or timed.
    expect(doc.analysisTime.phases.map((p: { phase: string }) => p.phase)).toEqual(['parse']);
    expect(modelRuns('end-to-end')).toBe(1);
    expect(modelRuns('framework')).toBe(1);
    expect(doc.reused.map((x: { kind: string }) => x.kind)).toEqual(['end-to-end', 'framework']);
    for (const x of doc.reused) expect(Date.parse(x.measuredAt)).toBeLessThan(Date.now() - doc.analysisTime.totalSeconds * 1000);
    // The first analysis's figures, to the last bit.
    expect(doc.latency).toEqual(first.latency);
    expect(doc.latency.measuredDuringMs).toBeGreaterThan(0);
    expect(doc.correctness).toEqual(first.correctness);
    expect(doc.framework).toEqual(first.framework);
    expect(doc.framework.kernelMs).toBeGreaterThan(0);
    expect(doc.layers.map((l: { runMs: number; startMs: number }) => [l.runMs, l.startMs])).toEqual(first.layers.map((l: { runMs: number; startMs: number }) => [l.runMs, l.startMs]));
    expect(doc.suggestions).toEqual(first.suggestions);
    expect(doc.notes.at(-1)).toMatch(/^the end-to-end runs with their output check and onnxruntime's WebGPU run reused from the store, measured \d{4}-\d\d-\d\d \d\d:\d\d(–\d\d:\d\d)? UTC; --force measures again$/);
    expect(r.stderr).toContain('the end-to-end runs with their output check: reused from the store (measured ');
    expect(r.stderr).toContain("onnxruntime's WebGPU run: reused from the store (measured ");
    expect(r.stderr).not.toContain('end-to-end runs of the model');
  });

  it('measures the model again with --force', async () => {
    const r = await dlprof(['analyze', fixture('resnet-tiny.onnx'), '--db', db, ...FAST, '--force', '--no-framework', '--json']);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const doc = r.json();
    expect(doc.reused).toEqual([]);
    expect(doc.analysisTime.phases.map((p: { phase: string }) => p.phase)).toContain('end-to-end');
    // The layers were measured again, and the model ran between them: a new measurement, stored.
    expect(doc.latency.measuredDuringMs).toBeGreaterThan(0);
    expect(doc.latency.measuredDuringMs).not.toBe(first.latency.measuredDuringMs);
    expect(modelRuns('end-to-end')).toBe(2);
    expect(doc.notes.join('\n')).not.toContain('reused from the store');
  });

  it('runs the model only after the benchmarks when every layer comes from the store and no run of the same settings is stored', async () => {
    expect(passOverheadProbes()).toBe(1); // taken by the --probe above
    // Without --no-probe: nothing to benchmark, so the pass overhead is not probed again either.
    // --runs 4: not the stored runs' settings (3), so measured again, after the benchmarks.
    const args = FAST.filter((f) => f !== '--no-probe').map((f, i, all) => (all[i - 1] === '--runs' ? '4' : f));
    const r = await dlprof(['analyze', fixture('resnet-tiny.onnx'), '--db', db, ...args, '--no-framework', '--json']);
    expect(passOverheadProbes()).toBe(1);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(r.json().reused).toEqual([]);
    expect(modelRuns('end-to-end')).toBe(3);
    const L = r.json().latency;
    expect(r.stderr).toContain('end-to-end runs of the model');
    expect(r.stderr).not.toContain('before the layer benchmarks');
    expect(r.stderr).not.toContain('between the layer benchmarks');
    expect(L.measuredBeforeMs).toBeNull();
    expect(L.measuredDuringMs).toBeNull();
    expect(L.drift).toBeNull();
    expect(L.measuredAfterMs).toBeGreaterThan(0);
    expect(L.measuredMs).toBe(L.measuredAfterMs);
  });

  it('runs the model before and after the benchmarks under conditions other than inference', async () => {
    const r = await dlprof(['analyze', fixture('resnet-tiny.onnx'), '--db', db, ...FAST, '--conditions', 'warm', '--no-framework', '--json']);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const doc = r.json();
    expect(schemaErrors('analyze', doc)).toBe('');
    const L = doc.latency;
    expect(doc.conditions).toBe('warm');
    expect(r.stderr).toContain('before the layer benchmarks');
    expect(L.measuredDuringMs).toBeNull();
    expect(L.measuredBeforeMs).toBeGreaterThan(0);
    expect(L.measuredMs).toBeCloseTo((L.measuredBeforeMs + L.measuredAfterMs) / 2, 9);
    expect(L.drift).toBeCloseTo((L.measuredAfterMs - L.measuredBeforeMs) / L.measuredBeforeMs, 9);
  });

  it('renders the HTML report in headless Chromium without console errors', async () => {
    const html = path.join(tempDir(), 'resnet.html');
    expect(fs.existsSync(html)).toBe(true);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
      const errors: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${html}`);
      expect(await page.locator('svg[aria-label="latency ladder"]').count()).toBe(1);
      expect(await page.locator('svg[aria-label="waterfall"] rect').count()).toBeGreaterThan(5);
      expect(await page.locator('svg[aria-label="roofline"] circle').count()).toBeGreaterThan(0);
      fs.mkdirSync(path.join(ROOT, 'test-output'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'test-output', 'analyze-report.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('escapes markup and control characters from the model in every output', async () => {
    const html = path.join(tempDir(), 'markup.html');
    const r = await dlprof(['analyze', fixture('markup-names.onnx'), '--db', db, ...FAST, '--no-framework', '--html', html]);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    const page = fs.readFileSync(html, 'utf8');
    expect(page).not.toMatch(/<script>alert|<img src=x/i);
    expect(page).toContain('&lt;');
    expect(page).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });

  it('runs a transformer with symbolic batch', async () => {
    const before = passOverheadProbes();
    // Without --no-probe: its layers are new, so the pass overhead is probed again next to them.
    const r = await dlprof(['analyze', fixture('vit-tiny.onnx'), '--dim', 'batch=1', '--db', db, ...FAST.filter((f) => f !== '--no-probe'), '--no-framework', '--json']);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(passOverheadProbes()).toBe(before + 1);
    const doc = r.json();
    expect(doc.correctness.ok).toBe(true);
    expect(doc.layers.map((l: { op: string }) => l.op)).toEqual(expect.arrayContaining(['MatMul', 'Softmax', 'LayerNormalization']));
  });
});
