/**
 * One in-process DuckDB database for the offline store, configured from pitstop.yaml
 * (`offline.memory_limit`, `threads`, `temp_directory`) and pinned to UTC, so that naive
 * timestamps mean UTC everywhere. Runs `Sql` values (rendered once, values as parameters) and
 * maps DuckDB's failures to PitstopErrors that name the file at fault.
 */
import { mkdirSync } from 'node:fs';
import { DuckDBInstance, type DuckDBConnection, type DuckDBPreparedStatement, type DuckDBResult, type DuckDBValue } from '@duckdb/node-api';
import { PitstopError } from '../core/errors.ts';
import { sql, type Sql } from './sql.ts';

export interface DuckDBSettings {
  /** DuckDB memory limit such as `4GB`; default: DuckDB's own (80% of RAM). */
  memoryLimit?: string;
  /** Worker threads; default: DuckDB's own (the number of cores). */
  threads?: number;
  /** Spill directory for larger-than-memory operators; default: DuckDB's own (`<db>.tmp`). */
  tempDirectory?: string;
}

export class DuckDBSession {
  private constructor(private readonly instance: DuckDBInstance, private readonly conn: DuckDBConnection) {}

  static async create(settings: DuckDBSettings = {}): Promise<DuckDBSession> {
    const options: Record<string, string> = {};
    if (settings.memoryLimit) options.memory_limit = settings.memoryLimit;
    if (settings.threads) options.threads = String(settings.threads);
    if (settings.tempDirectory) {
      mkdirSync(settings.tempDirectory, { recursive: true });
      options.temp_directory = settings.tempDirectory;
    }
    const instance = await DuckDBInstance.create(':memory:', options);
    const conn = await instance.connect();
    // TimeZone needs ICU, which is only loaded after start-up, so it cannot be an open option.
    await conn.run("SET GLOBAL TimeZone = 'UTC'");
    return new DuckDBSession(instance, conn);
  }

  /** The session's main connection (statements on it run one at a time). */
  get connection(): DuckDBConnection {
    return this.conn;
  }

  /** A separate connection, for a stream that runs while other statements do. Close it after. */
  async connect(): Promise<DuckDBConnection> {
    const c = await this.instance.connect();
    await c.run("SET TimeZone = 'UTC'");
    return c;
  }

  /** Runs a statement and returns all rows as JS values (small results only). */
  async all(q: Sql, conn: DuckDBConnection = this.conn): Promise<Record<string, unknown>[]> {
    return this.withPrepared(q, conn, async (p) => (await p.runAndReadAll()).getRowObjectsJS() as Record<string, unknown>[]);
  }

  /** Runs a statement for its effect; returns the number of rows changed (COPY: rows written). */
  async exec(q: Sql, conn: DuckDBConnection = this.conn): Promise<number> {
    return this.withPrepared(q, conn, async (p) => (await p.run()).rowsChanged);
  }

  /** Runs a statement as a stream: chunks are produced as they are fetched. */
  async stream(q: Sql, conn: DuckDBConnection = this.conn): Promise<DuckDBResult> {
    return this.withPrepared(q, conn, (p) => p.stream());
  }

  /** Column names and DuckDB type names of a query's result, without running it over the data. */
  async describe(q: Sql, conn: DuckDBConnection = this.conn): Promise<Array<{ name: string; type: string }>> {
    return this.withPrepared(sql`SELECT * FROM (${q}) AS __ps_d LIMIT 0`, conn, async (p) => {
      const r = await p.run();
      return r.columnNames().map((name, i) => ({ name, type: r.columnType(i).toString() }));
    });
  }

  /**
   * Prepares exactly one statement (node-api would otherwise run every statement of a script
   * before the last), binds the parameters and hands it to `use`.
   */
  private async withPrepared<T>(q: Sql, conn: DuckDBConnection, use: (p: DuckDBPreparedStatement) => Promise<T>): Promise<T> {
    const { text, params } = q.render();
    let prepared: DuckDBPreparedStatement | undefined;
    try {
      const statements = await conn.extractStatements(text);
      if (statements.count !== 1) throw new PitstopError('OFFLINE_QUERY_FAILED', `refusing to run ${statements.count} statements where one was built`);
      prepared = await statements.prepare(0);
      if (params.length) prepared.bind(params as DuckDBValue[]);
      return await use(prepared);
    } catch (e) {
      throw translateDuckDBError(e);
    } finally {
      prepared?.destroySync();
    }
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/** DuckDB's file errors become SOURCE_UNREADABLE (the message names the file); others fail the query. */
export function translateDuckDBError(e: unknown): PitstopError {
  if (e instanceof PitstopError) return e;
  const message = (e as Error)?.message ?? String(e);
  const first = message.split('\n')[0];
  if (/^IO Error|No files found|Cannot open file|Could not open|No such file|Invalid Input Error: (No magic bytes|File .* too small)|Error reading CSV|CSV Error/i.test(message)) {
    return new PitstopError('SOURCE_UNREADABLE', first, { cause: e });
  }
  return new PitstopError('OFFLINE_QUERY_FAILED', first, { cause: e });
}
