/**
 * SourceSchemaProbe on an in-memory DuckDB: parses expressions with json_serialize_sql and reads
 * source schemas with a zero-row scan. Text from definitions only ever travels as parameters.
 */
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { SourceSchemaProbe } from '../definitions/source-schema-probe.ts';

export class DuckDbSourceProbe implements SourceSchemaProbe {
  private readonly repoDir: string;
  private readonly instance: DuckDBInstance;
  private readonly connection: DuckDBConnection;

  /** No I/O here; use `create()`. */
  constructor(repoDir: string, instance: DuckDBInstance, connection: DuckDBConnection) {
    this.repoDir = path.resolve(repoDir);
    this.instance = instance;
    this.connection = connection;
  }

  /** Opens an in-memory DuckDB with one thread (schema probes are tiny). */
  static async create(repoDir: string): Promise<DuckDbSourceProbe> {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    return new DuckDbSourceProbe(repoDir, instance, await instance.connect());
  }

  async serializeSql(sql: string): Promise<unknown> {
    const reader = await this.connection.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR) AS tree', [sql]);
    return JSON.parse(String(reader.getRowObjects()[0].tree));
  }

  async describeSource(source: { path: string; format: 'parquet' | 'csv' }): Promise<Record<string, string> | undefined> {
    const abs = path.resolve(this.repoDir, source.path);
    const fn = source.format === 'csv' ? 'read_csv' : 'read_parquet';
    try {
      const result = await this.connection.run(`SELECT * FROM ${fn}($1::VARCHAR) LIMIT 0`, [abs]);
      const names = result.columnNames();
      const types = result.columnTypes();
      return Object.fromEntries(names.map((n, i) => [n, types[i].toString()]));
    } catch (e) {
      if (/No files found/i.test((e as Error).message)) return undefined;
      throw e;
    }
  }

  private aggregates?: ReadonlySet<string>;

  async aggregateFunctionNames(): Promise<ReadonlySet<string>> {
    if (!this.aggregates) {
      const reader = await this.connection.runAndReadAll(
        "SELECT DISTINCT lower(function_name) AS name FROM duckdb_functions() WHERE function_type = 'aggregate'",
      );
      this.aggregates = new Set(reader.getRowObjects().map((r) => String(r.name)));
    }
    return this.aggregates;
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
