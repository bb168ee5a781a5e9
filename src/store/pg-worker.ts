/**
 * The worker thread that holds dlprof's PostgreSQL connections (store/postgres.ts waits on it).
 * Each connection is one `pg` client, so a transaction's statements share a session. Errors come
 * back as values, with PostgreSQL's SQLSTATE code, rather than as thrown objects that lose it on
 * the way between threads.
 */
import pg from 'pg';
import { runAsWorker } from 'synckit';

// bigint and numeric as JavaScript numbers: ids and counts stay far below 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));
pg.types.setTypeParser(1700, (v: string) => Number(v));

export type PgRequest =
  | { op: 'connect'; handle: number; url: string; timeoutMs: number }
  | { op: 'query'; handle: number; sql: string; params: unknown[] }
  | { op: 'close'; handle: number };

export type PgReply = { rows: Array<Record<string, unknown>> } | { error: { message: string; code?: string } };

const clients = new Map<number, pg.Client>();

runAsWorker(async (req: PgRequest): Promise<PgReply> => {
  try {
    if (req.op === 'connect') {
      const client = new pg.Client({ connectionString: req.url, connectionTimeoutMillis: req.timeoutMs, application_name: 'dlprof' });
      // A connection dropped by the server later surfaces as the next query's error, not as an
      // unhandled 'error' event that would end the thread.
      client.on('error', () => {});
      await client.connect();
      clients.set(req.handle, client);
      return { rows: [] };
    }
    const client = clients.get(req.handle);
    if (!client) return { error: { message: 'the connection is closed' } };
    if (req.op === 'close') {
      clients.delete(req.handle);
      await client.end();
      return { rows: [] };
    }
    const r = await client.query(req.sql, req.params);
    // Several statements in one call (a migration) answer with one result each.
    const rows = Array.isArray(r) ? [] : r.rows;
    return { rows };
  } catch (e) {
    const err = e as { message?: string; code?: string };
    return { error: { message: err.message ?? String(e), code: err.code } };
  }
});
