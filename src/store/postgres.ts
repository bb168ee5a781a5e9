/**
 * The store on PostgreSQL: the Sql interface over a `pg` connection held by a worker thread
 * (pg-worker.ts), which this thread waits on for every statement (synckit). Blocking is what the
 * store's callers expect of SQLite too; a statement costs a round trip to the server either way.
 */
import { fileURLToPath } from 'node:url';
import { createSyncFn } from 'synckit';
import type { PgReply, PgRequest } from './pg-worker.js';
import type { Sql } from './sql.js';

const here = fileURLToPath(import.meta.url);
// Built: dist/src/store/pg-worker.js beside this file; from the sources (tests), the .ts through tsx.
const workerPath = here.replace(/postgres\.(js|ts)$/, 'pg-worker.$1');

let call: ((req: PgRequest) => PgReply) | undefined;
let nextHandle = 1;

export class PgError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'PgError';
  }
}

/** `?` placeholders as PostgreSQL's `$1, $2, …` (the store's SQL has no `?` inside literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export class PostgresSql implements Sql {
  readonly dialect = 'postgres' as const;
  private depth = 0;
  private constructor(private readonly handle: number) {}

  /** Connects (waiting at most `timeoutMs`); throws PgError with the server's or the network's message. */
  static connect(url: string, timeoutMs = 10_000): PostgresSql {
    // Statements wait on locks another writer holds (a migration, an import): far longer than a query.
    call ??= createSyncFn<(req: PgRequest) => Promise<PgReply>>(workerPath, { tsRunner: 'tsx', timeout: 600_000 });
    const handle = nextHandle++;
    const s = new PostgresSql(handle);
    s.send({ op: 'connect', handle, url, timeoutMs });
    return s;
  }

  private send(req: PgRequest): Array<Record<string, unknown>> {
    const r = call!(req);
    if ('error' in r) throw new PgError(r.error.message, r.error.code);
    return r.rows;
  }

  all<T>(sql: string, params: readonly unknown[] = []): T[] {
    return this.send({ op: 'query', handle: this.handle, sql: numbered(sql), params: [...params] }) as T[];
  }

  get<T>(sql: string, params: readonly unknown[] = []): T | undefined {
    return this.all<T>(sql, params)[0];
  }

  run(sql: string, params: readonly unknown[] = []): void {
    this.all(sql, params);
  }

  exec(sql: string): void {
    this.send({ op: 'query', handle: this.handle, sql, params: [] });
  }

  transaction<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.exec('BEGIN');
    this.depth++;
    try {
      const out = fn();
      this.exec('COMMIT');
      return out;
    } catch (e) {
      try { this.exec('ROLLBACK'); } catch { /* the connection is gone: the server rolls back */ }
      throw e;
    } finally {
      this.depth--;
    }
  }

  close(): void {
    try { this.send({ op: 'close', handle: this.handle }); } catch { /* already gone */ }
  }
}
