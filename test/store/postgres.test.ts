import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/store/migrations/index.js';
import type { ModelRunKey } from '../../src/store/model-runs.js';
import { dlprof } from '../support/cli.js';
import { fixture, ROOT, tempDir } from '../support/models.js';
import { freshDatabase, query } from '../support/postgres.js';
import { schemaErrors } from '../support/schema.js';

const WRITER = path.join(ROOT, 'test/support/pg-writer.mjs');

/** Runs pg-writer.mjs; `onLine` sees each line it prints. */
function writer(url: string, id: string, count: number, onLine: (line: string) => void = () => {}): { done: Promise<{ code: number | null; signal: string | null; stderr: string }>; kill: () => void } {
  const child = spawn(process.execPath, [WRITER, url, id, String(count)], { cwd: ROOT });
  let stderr = '';
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    lines.forEach(onLine);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return { done, kill: () => child.kill('SIGKILL') };
}

describe('the fleet store on PostgreSQL', () => {
  it('takes the same migrations, an imported H200, and answers machines and predict as SQLite does', async () => {
    const url = await freshDatabase();
    const src = path.join(tempDir(), 'h200.sqlite');
    fs.copyFileSync(fixture('h200-resnet-tiny.sqlite'), src);
    fs.chmodSync(src, 0o644);
    const file = path.join(tempDir(), 'h200.json');
    expect((await dlprof(['export', file, '--db', src])).status).toBe(0);
    const imp = await dlprof(['import', file, '--db', url, '--json']);
    expect(imp.status, imp.stderr).toBe(0);
    expect(imp.json().db).not.toContain(new URL(url).password);
    expect((await query<{ version: number }>(url, 'SELECT version FROM dlprof_schema'))[0].version).toBe(SCHEMA_VERSION);
    // Double precision, as SQLite's REAL: the samples survive to the last bit.
    const [pgRow] = await query<{ samples_ms: string; median_ms: number }>(url, "SELECT samples_ms, median_ms FROM measurement WHERE status = 'completed' ORDER BY id LIMIT 1");
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    const first = doc.measurements.find((m: { status: string }) => m.status === 'completed');
    expect(JSON.parse(pgRow.samples_ms)).toEqual(first.samplesMs);
    expect(pgRow.median_ms).toBe(first.medianMs);
    expect((await dlprof(['import', file, '--db', url, '--json'])).json().files[0].importId).toBeNull();

    const machines = await dlprof(['machines', '--db', url, '--json']);
    expect(schemaErrors('machines', machines.json())).toBe('');
    expect(machines.json().machines[0]).toMatchObject({ name: 'nvidia-h200', layers: 42 });
    const onPg = (await dlprof(['predict', fixture('resnet-tiny.onnx'), '--machine', 'h200', '--db', url, '--json'])).json();
    const onSqlite = (await dlprof(['predict', fixture('resnet-tiny.onnx'), '--machine', 'h200', '--db', src, '--json'])).json();
    expect(onPg.predictedMs).toBe(onSqlite.predictedMs);
    expect(onPg.coverage).toEqual(onSqlite.coverage);
  });

  it('loses nothing when two writers write at once', async () => {
    const url = await freshDatabase();
    const n = 150;
    const [a, b] = await Promise.all([writer(url, 'a', n).done, writer(url, 'b', n).done]);
    expect(a, a.stderr).toMatchObject({ code: 0 });
    expect(b, b.stderr).toMatchObject({ code: 0 });
    const rows = await query<{ run_id: string; n: number }>(url, 'SELECT run_id, COUNT(*)::int AS n FROM measurement GROUP BY run_id ORDER BY run_id');
    expect(rows).toEqual([{ run_id: 'run-a', n }, { run_id: 'run-b', n }]);
    expect(await query(url, 'SELECT COUNT(*)::int AS n FROM machine')).toEqual([{ n: 1 }]);
    expect(await query(url, 'SELECT COUNT(*)::int AS n FROM layer')).toEqual([{ n: 8 }]);
    expect(await query(url, 'SELECT COUNT(*)::int AS n FROM model_layer')).toEqual([{ n: 8 }]);
    expect(await query(url, 'SELECT COUNT(DISTINCT variant)::int AS n FROM measurement')).toEqual([{ n: 2 * n }]);
  });

  it('keeps everything a writer committed before it was killed with SIGKILL', async () => {
    const url = await freshDatabase();
    const committed: number[] = [];
    const w = writer(url, 'k', 100_000, (line) => {
      const m = /^committed (\d+)$/.exec(line);
      if (m) committed.push(Number(m[1]));
      if (committed.length === 60) w.kill();
    });
    const end = await w.done;
    expect(end.signal).toBe('SIGKILL');
    expect(committed.length).toBeGreaterThanOrEqual(60);
    const stored = (await query<{ variant: string }>(url, 'SELECT variant FROM measurement')).map((r) => Number(r.variant.split('-')[1]));
    // Every result it reported as committed is there; beyond them at most the one in flight.
    for (const i of committed) expect(stored).toContain(i);
    expect(stored.length).toBeLessThanOrEqual(committed.length + 1);
    // The store stays usable: another writer goes on.
    expect((await writer(url, 'after', 5).done).code).toBe(0);
  });

  it('benchmarks into it with --db, as into a file', async () => {
    const url = await freshDatabase();
    const b = await dlprof(['bench', fixture('resnet-tiny.onnx'), '--op', 'Relu', '--variant', 'naive', '--budget-ms', '200', '--db', url, '--json']);
    expect(b.status, b.stderr).toBe(0);
    expect(b.json().summary).toMatchObject({ layers: 9, measured: 9 });
    expect(b.json().db).not.toContain(new URL(url).password);
    const again = await dlprof(['bench', fixture('resnet-tiny.onnx'), '--op', 'Relu', '--variant', 'naive', '--db', url, '--json']);
    expect(again.json().summary).toMatchObject({ measured: 0, reused: 9 });
    expect(await query(url, 'SELECT COUNT(*)::int AS n FROM run')).toEqual([{ n: 2 }]);
  });

  it("keeps analyze's model runs and finds them again by their identity, as SQLite does", async () => {
    // The built store, as pg-writer.mjs uses it: its PostgreSQL worker thread runs the built JavaScript.
    const { Store } = await import(path.join(ROOT, 'dist/src/store/db.js')) as typeof import('../../src/store/db.js');
    const { storedModelRun, storeModelRun } = await import(path.join(ROOT, 'dist/src/store/model-runs.js')) as typeof import('../../src/store/model-runs.js');
    const store = Store.open(await freshDatabase());
    try {
      const fp = { adapterVendor: 'mesa', adapterArchitecture: 'software', adapterDevice: 'llvmpipe', adapterDescription: 'llvmpipe',
        backend: 'vulkan', cpu: 'cpu', os: 'Linux', driverSettings: '', dlprofVersion: '0.1.0' };
      const s = { store, machineId: store.machineId(fp), fp };
      const key: ModelRunKey = { kind: 'framework', model: 'm', code: 'onnxruntime-node 1.30.0 webgpu', conditions: '', settings: { runs: 10 } };
      const payload = { latency: { provider: 'webgpu', medianMs: 2.7624391249999576, trimmedMeanMs: 2.7, minMs: 2.5, runs: 10 }, profile: { error: 'none' } };
      const at = storeModelRun(s, key, payload);
      expect(storedModelRun(s, key)).toEqual({ payload, measuredAt: at });
      expect(storedModelRun(s, { ...key, settings: { runs: 5 } })).toBeUndefined();
      const later = storeModelRun(s, key, { ...payload, profile: { error: 'later' } });
      expect(storedModelRun(s, key)).toEqual({ payload: { ...payload, profile: { error: 'later' } }, measuredAt: later });
    } finally {
      store.close();
    }
  });

  it('is a clean error, without the password, when the server cannot be reached or refuses', async () => {
    const secret = 'Sup3r-s3cret-pw';
    const down = await dlprof(['machines', '--db', `postgres://dlprof:${secret}@127.0.0.1:1/dlprof`, '--json']);
    expect(down.status).toBe(6);
    expect(down.json().error.code).toBe('E_DB_OPEN');
    expect(down.json().error.message).toMatch(/postgres:\/\/dlprof:\*\*\*@127\.0\.0\.1:1\/dlprof: cannot connect .*ECONNREFUSED/);
    const wrong = new URL(await freshDatabase());
    wrong.password = secret;
    const refused = await dlprof(['machines', '--db', wrong.toString()]);
    expect(refused.status).toBe(6);
    expect(refused.stderr).toMatch(/password authentication failed/);
    for (const r of [down, refused]) expect(r.stdout + r.stderr).not.toContain(secret);
  });
});
