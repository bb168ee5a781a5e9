/**
 * `dlprof bench` end to end on lavapipe: schema-valid results, reuse of stored measurements,
 * concurrent writers, a SIGKILL mid-run, and bad input leaving the database untouched.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { dlprof } from '../support/cli.js';
import { fixture, ROOT, tempDir } from '../support/models.js';
import { schemaErrors } from '../support/schema.js';
import { GraphBuilder } from '../../src/onnx/write.js';

const FAST = ['--budget-ms', '60', '--no-probe'];
const db = (name: string) => path.join(tempDir(), name);

describe('dlprof bench', () => {
  it('times each layer on its variants, stores them, and reuses them on the next run', async () => {
    const file = db('bench.sqlite');
    const args = ['bench', fixture('resnet-tiny.onnx'), '--op', 'Relu', '--op', 'Add', '--op', 'GlobalAveragePool', '--db', file, ...FAST, '--json'];
    const first = await dlprof(args);
    expect(first.status, first.stderr).toBe(0);
    const doc = first.json();
    expect(schemaErrors('bench', doc)).toBe('');
    expect(doc.layers.length).toBeGreaterThanOrEqual(3);
    for (const l of doc.layers) {
      expect(l.kernel, l.op).not.toBeNull();
      expect(l.bestMs, l.op).toBeGreaterThan(0);
      expect(l.bestMs).toBeLessThanOrEqual(l.defaultMs);
      expect(l.variants.find((v: { variant: string }) => v.variant === l.defaultVariant)?.status).toBe('completed');
    }
    expect(doc.summary.measured).toBeGreaterThan(0);
    expect(doc.summary.reused).toBe(0);
    expect(first.stderr).toMatch(/\[\d+\/\d+\]/); // progress on stderr

    const second = (await dlprof(args)).json();
    expect(second.summary.measured).toBe(0);
    expect(second.summary.reused).toBe(doc.summary.measured);
    expect(second.layers.map((l: { bestMs: number }) => l.bestMs)).toEqual(doc.layers.map((l: { bestMs: number }) => l.bestMs));
    // The trimmed means analyze sums come back the same from the stored samples.
    const tmeans = (d: { layers: Array<{ variants: Array<{ trimmedMeanMs?: number }> }> }): Array<number | undefined> => d.layers.flatMap((l) => l.variants.map((v) => v.trimmedMeanMs));
    expect(tmeans(doc).filter((x) => x !== undefined).length).toBeGreaterThan(0);
    expect(tmeans(second)).toEqual(tmeans(doc));

    const forced = (await dlprof([...args, '--force'])).json();
    expect(forced.summary.reused).toBe(0);
    expect(forced.summary.measured).toBe(doc.summary.measured);

    const human = await dlprof(args.filter((a) => a !== '--json'));
    expect(human.stdout).toContain('reused from earlier runs');
    expect(human.stdout).toContain('timed inference');

    // Other conditions are other results: measured anew, stored beside the first ones.
    expect(doc.conditions).toBe('inference');
    const warm = (await dlprof([...args, '--conditions', 'warm'])).json();
    expect(warm.conditions).toBe('warm');
    expect(warm.summary.reused).toBe(0);
    expect(warm.summary.measured).toBe(doc.summary.measured);
    expect((await dlprof([...args, '--conditions', 'warm'])).json().summary.reused).toBe(doc.summary.measured);
    expect((await dlprof(args)).json().summary.reused).toBe(doc.summary.measured);
    const conn = new Database(file, { readonly: true });
    expect(conn.prepare('SELECT conditions, COUNT(*) AS n FROM measurement GROUP BY conditions ORDER BY conditions').all())
      .toEqual([{ conditions: 'inference', n: 2 * doc.summary.measured }, { conditions: 'warm', n: doc.summary.measured }]);
    conn.close();
    const bad = await dlprof([...args, '--conditions', 'tepid']);
    expect(bad.status).toBe(2);
    expect(bad.json().error.message).toMatch(/--conditions=tepid/);
  });

  it("keeps a software adapter's worker threads in the machine's identity: LP_NUM_THREADS=0 unless set", async () => {
    const file = db('threads.sqlite');
    const args = ['bench', fixture('resnet-tiny.onnx'), '--op', 'Relu', '--db', file, ...FAST, '--json'];
    const software = (await dlprof(['devices', '--json'])).json().selected.isFallback as boolean;
    const unset = await dlprof(args, { LP_NUM_THREADS: undefined });
    expect(unset.status, unset.stderr).toBe(0);
    const chosen = await dlprof(args, { LP_NUM_THREADS: '1' });
    const [a, b] = [unset.json(), chosen.json()];
    expect(schemaErrors('bench', b)).toBe('');
    expect(a.machine.driverSettings).toBe(software ? 'LP_NUM_THREADS=0' : '');
    expect(b.machine.driverSettings).toBe(software ? 'LP_NUM_THREADS=1' : '');
    if (!software) return; // other drivers ignore it: one machine
    // Said next to the adapter, and the measurements of the first run reused under it.
    const human = await dlprof(args.filter((x) => x !== '--json'), { LP_NUM_THREADS: undefined });
    expect(human.stdout).toMatch(/\(\w+, LP_NUM_THREADS=0\)/);
    expect(human.stdout).toContain('reused from earlier runs');
    // Another machine: nothing measured with the other thread count is reused.
    expect(b.machine.fingerprint).not.toBe(a.machine.fingerprint);
    expect(b.summary.reused).toBe(0);
    expect(b.summary.measured).toBe(a.summary.measured);
    const conn = new Database(file, { readonly: true });
    expect(conn.prepare('SELECT driver_settings FROM machine ORDER BY id').all()).toEqual([{ driver_settings: 'LP_NUM_THREADS=0' }, { driver_settings: 'LP_NUM_THREADS=1' }]);
    conn.close();
  });

  it('lets two processes write the same database at once', async () => {
    const file = db('concurrent.sqlite');
    const run = (op: string) => new Promise<number>((resolve) => {
      const p = spawn(process.execPath, [path.join(ROOT, 'bin/run.js'), 'bench', fixture('resnet-tiny.onnx'), '--op', op, '--db', file, ...FAST, '--force'],
        { cwd: ROOT, stdio: 'ignore' });
      p.on('exit', (code) => resolve(code ?? -1));
    });
    const codes = await Promise.all([run('Relu'), run('Add')]);
    expect(codes).toEqual([0, 0]);
    const d = new Database(file, { readonly: true });
    expect(d.prepare('SELECT COUNT(*) n FROM run').get()).toEqual({ n: 2 });
    const per = d.prepare('SELECT l.op, COUNT(*) n FROM measurement m JOIN layer l ON l.key = m.layer_key GROUP BY l.op').all() as Array<{ op: string; n: number }>;
    expect(per.map((p) => p.op).sort()).toEqual(['Add', 'Relu']);
    d.close();
  });

  it('keeps finished measurements and no partial run when killed with SIGKILL', async () => {
    const file = db('killed.sqlite');
    // One layer at a time (in `inference` rounds a whole chunk of layers finishes at once), each
    // committed as it finishes.
    const p = spawn(process.execPath, [path.join(ROOT, 'bin/run.js'), 'bench', fixture('resnet-tiny.onnx'), '--db', file, '--budget-ms', '300', '--no-probe', '--conditions', 'cold-weights'],
      { cwd: ROOT, stdio: 'ignore' });
    // The first layer's variants are compiled at their first dispatch on lavapipe (seconds each on
    // a busy machine): wait for two rows as long as that takes; the run has 42 layers to go.
    const deadline = Date.now() + 300_000;
    let rows = 0;
    while (Date.now() < deadline && rows < 2) {
      await new Promise((r) => setTimeout(r, 200));
      if (!fs.existsSync(file)) continue;
      try {
        const d = new Database(file, { readonly: true, fileMustExist: true });
        rows = (d.prepare('SELECT COUNT(*) n FROM measurement').get() as { n: number }).n;
        d.close();
      } catch { /* schema not created yet */ }
    }
    p.kill('SIGKILL');
    await new Promise((r) => p.on('exit', r));
    expect(rows).toBeGreaterThanOrEqual(2);
    const d = new Database(file);
    expect(d.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(d.prepare('SELECT COUNT(*) n FROM run').get()).toEqual({ n: 0 });
    const done = d.prepare("SELECT * FROM measurement WHERE status = 'completed'").all() as Array<{ median_ms: number; samples: number; samples_ms: string }>;
    expect(done.length).toBeGreaterThan(0);
    for (const m of done) {
      expect(m.median_ms).toBeGreaterThan(0);
      expect(JSON.parse(m.samples_ms)).toHaveLength(m.samples);
    }
    d.close();
  });

  it('leaves the database untouched on bad input', async () => {
    const file = db('untouched.sqlite');
    const r = await dlprof(['bench', fixture('truncated.onnx'), '--db', file, '--json']);
    expect(r.status).toBe(3);
    expect(r.json().error.code).toBe('E_DECODE');
    expect(fs.existsSync(file)).toBe(false);
    const newer = db('newer.sqlite');
    const d = new Database(newer);
    d.pragma('user_version = 999');
    d.close();
    const before = fs.readFileSync(newer);
    const n = await dlprof(['bench', fixture('resnet-tiny.onnx'), '--op', 'Relu', '--db', newer, '--json']);
    expect(n.status).toBe(6);
    expect(n.json().error.code).toBe('E_DB_NEWER');
    expect(fs.readFileSync(newer).equals(before)).toBe(true);
  });
});

describe('dlprof bench limits', () => {
  it('skips a layer larger than the adapter allows, saying why, without crashing', async () => {
    const file = path.join(tempDir(), 'big-relu.onnx');
    const g = new GraphBuilder('big');
    g.input('x', 'float32', [80, 1024, 1024]); // 320 MiB: beyond lavapipe's 128 MiB storage binding
    g.op('Relu', ['x'], {}, { output: 'y' });
    g.output('y');
    g.save(file);
    const r = await dlprof(['bench', file, '--db', db('big.sqlite'), ...FAST, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const [layer] = r.json().layers;
    expect(layer.bestVariant).toBeNull();
    expect(layer.variants.every((v: { status: string }) => v.status === 'skipped')).toBe(true);
    expect(layer.variants[0].reason).toMatch(/bind|limit|MiB|bytes/i);
  });
});
