/**
 * The deterministic, seeded generator of the example repository's source data: one Parquet file
 * per table under `<out>/<table>/`, written by DuckDB from pure hash functions of (row, seed).
 * Small by default (seconds); `rows: 10_000_000` for benchmarks.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { EXAMPLE_TABLES } from './tables.ts';

export interface GenerateOptions {
  /** Output directory (absolute, or relative to the working directory). */
  outDir: string;
  /** Rows of the largest tables; default 20,000. */
  rows?: number;
  /** Seed; the same seed gives the same data. Default 42. */
  seed?: number;
  /** DuckDB threads; default DuckDB's own. The output does not depend on it. */
  threads?: number;
  /** Called after each table with its name and row count. */
  onTable?: (table: string, rows: number) => void;
}

export const DEFAULT_ROWS = 20_000;
export const DEFAULT_SEED = 42;
/** Event times span the 7 days from 2026-01-01T00:00:00Z. */
export const BASE_EPOCH_S = Date.UTC(2026, 0, 1) / 1000;
export const SPAN_S = 7 * 86_400;

export interface GeneratedTable {
  table: string;
  file: string;
  rows: number;
}

export async function generateExampleData(options: GenerateOptions): Promise<GeneratedTable[]> {
  const rows = options.rows ?? DEFAULT_ROWS;
  const seed = options.seed ?? DEFAULT_SEED;
  const out = path.resolve(options.outDir);
  const instance = await DuckDBInstance.create(':memory:', options.threads ? { threads: String(options.threads) } : {});
  const connection = await instance.connect();
  const result: GeneratedTable[] = [];
  try {
    for (const [index, table] of EXAMPLE_TABLES.entries()) {
      const dir = path.join(out, table.dir);
      await mkdir(dir, { recursive: true });
      const file = path.join(dir, `${table.dir}.parquet`);
      const temp = `${file}.tmp`;
      const n = table.rows(rows);
      // The target of COPY cannot be a parameter: it is our own path, quoted as a string literal.
      await connection.run(`COPY (${table.sql}) TO ${sqlStringLiteral(temp)} (FORMAT parquet, COMPRESSION zstd)`, [
        // Each table gets its own hash stream, so tables are not correlated row by row.
        n, seed * 16 + index, table.entities(rows), BASE_EPOCH_S, SPAN_S,
      ]);
      await rename(temp, file); // readers never see a half-written file
      result.push({ table: table.dir, file, rows: n });
      options.onTable?.(table.dir, n);
    }
  } catch (e) {
    for (const table of EXAMPLE_TABLES) await rm(path.join(out, table.dir, `${table.dir}.parquet.tmp`), { force: true });
    throw e;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return result;
}

/** A DuckDB string literal: single quotes doubled. */
export function sqlStringLiteral(s: string): string {
  if (s.includes('\0')) throw new Error('NUL in a path');
  return `'${s.replaceAll("'", "''")}'`;
}
