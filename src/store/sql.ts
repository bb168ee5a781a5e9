/**
 * The two databases the store runs on, behind one synchronous interface: SQLite (better-sqlite3,
 * the embedded default) and PostgreSQL (`pg`, a fleet store that several machines write to).
 *
 * The store's SQL is written in the subset both understand (`?` placeholders, `ON CONFLICT … DO`,
 * no dialect functions); the PostgreSQL side numbers the placeholders. PostgreSQL's client is
 * asynchronous, and the measuring code commits each result the moment it is taken from inside
 * synchronous code paths, so its queries run in a worker thread that this thread waits on
 * (synckit): the rest of dlprof sees the same blocking calls whichever database it writes to.
 */
import Database from 'better-sqlite3';

export type Dialect = 'sqlite' | 'postgres';

export interface Sql {
  readonly dialect: Dialect;
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): T[];
  get<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): T | undefined;
  run(sql: string, params?: readonly unknown[]): void;
  /** Several statements, no parameters (migrations). */
  exec(sql: string): void;
  /** Runs `fn` in one transaction that takes the write lock at once; nested calls join the outer one. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export class SqliteSql implements Sql {
  readonly dialect = 'sqlite' as const;
  constructor(readonly db: Database.Database) {}

  all<T>(sql: string, params: readonly unknown[] = []): T[] {
    return this.db.prepare(sql).all(...params) as T[];
  }

  get<T>(sql: string, params: readonly unknown[] = []): T | undefined {
    return this.db.prepare(sql).get(...params) as T | undefined;
  }

  run(sql: string, params: readonly unknown[] = []): void {
    this.db.prepare(sql).run(...params);
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  transaction<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    return this.db.transaction(fn).immediate();
  }

  close(): void {
    this.db.close();
  }
}

/** A database URL with its password replaced, for messages and reports. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not parseable as a URL: drop anything between '://' … ':' and '@'.
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}

export const isPostgresUrl = (s: string): boolean => /^postgres(ql)?:\/\//i.test(s);
