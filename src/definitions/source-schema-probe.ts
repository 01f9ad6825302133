/**
 * The port through which definition checks reach DuckDB (src/definitions imports only core;
 * the adapter lives in src/registry/duckdb-source-probe.ts and is chosen in src/app/registry.ts).
 */
export interface SourceSchemaProbe {
  /**
   * The JSON syntax tree DuckDB makes of `sql` (`json_serialize_sql`, with the text passed as a
   * parameter, never spliced). Returns DuckDB's own `{ error: true, error_message }` object for
   * text it cannot parse.
   */
  serializeSql(sql: string): Promise<unknown>;
  /**
   * Column names and DuckDB types of a source's files, or undefined when no file matches the
   * path yet (data not generated): then column checks are skipped, not failed.
   * @param source path relative to the repository (already checked not to escape it) and format.
   */
  describeSource(source: { path: string; format: 'parquet' | 'csv' }): Promise<Record<string, string> | undefined>;
  /**
   * Lower-case names of DuckDB's aggregate functions. A feature is computed per row, so an
   * expression calling one (`sum(x)`) is refused.
   */
  aggregateFunctionNames(): Promise<ReadonlySet<string>>;
  close(): Promise<void>;
}
