/**
 * A real PostgreSQL server for the fleet-store tests. CI (.ci/run) starts one and exports its URL in
 * DLPROF_TEST_PG_URL; without it, the test file starts its own with scripts/test-postgres.sh (which
 * installs Debian's postgresql when it is missing) and stops it afterwards. Either way each test file
 * gets a database of its own, so files running in parallel do not see each other's rows.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';
import { ROOT } from './models.js';

let started: { dir: string } | undefined;
let server: Promise<string> | undefined;

/** The server's URL: CI's, else one started for this test file (once). */
function serverUrl(): Promise<string> {
  server ??= startServer();
  return server;
}

async function startServer(): Promise<string> {
  if (process.env.DLPROF_TEST_PG_URL) return process.env.DLPROF_TEST_PG_URL;
  // Readable by the server's user (PostgreSQL refuses to run as root).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-pg-'));
  fs.chmodSync(dir, 0o755);
  started = { dir };
  try {
    return execFileSync('bash', [path.join(ROOT, 'scripts/test-postgres.sh'), 'start', path.join(dir, 'pg')], { encoding: 'utf8', timeout: 600_000 }).trim();
  } catch (e) {
    throw new Error(`could not start a PostgreSQL server for the tests (set DLPROF_TEST_PG_URL to use a running one): ${(e as Error).message}`);
  }
}

afterAll(() => {
  if (!started) return;
  execFileSync('bash', [path.join(ROOT, 'scripts/test-postgres.sh'), 'stop', path.join(started.dir, 'pg')], { timeout: 120_000 });
  fs.rmSync(started.dir, { recursive: true, force: true });
  started = undefined;
  server = undefined;
});

/** A new, empty database on the test server; its URL (with the password). */
export async function freshDatabase(): Promise<string> {
  const url = new URL(await serverUrl());
  const name = `dlprof_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs `sql` on the database at `url` and returns the rows. */
export async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}
