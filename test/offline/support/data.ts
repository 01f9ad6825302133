/**
 * Test data on disk: small Parquet/CSV files written through a real DuckDB, in temp directories.
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBSession } from '../../../src/offline/duckdb-session.ts';
import { ident, join, literal, sql, trusted, type SqlValue } from '../../../src/offline/sql.ts';

export type Column = [name: string, duckdbType: string];

let shared: DuckDBSession | undefined;
async function session(): Promise<DuckDBSession> {
  shared ??= await DuckDBSession.create({ threads: 1 });
  return shared;
}

/** Writes rows to a Parquet (or, by extension, CSV) file; values are cast to the column types. */
export async function writeTable(file: string, columns: Column[], rows: SqlValue[][]): Promise<string> {
  mkdirSync(path.dirname(file), { recursive: true });
  const s = await session();
  const select = rows.length
    ? join(rows.map((r) => sql`SELECT ${join(r.map((v, i) => sql`CAST(${v} AS ${trusted(columns[i][1])}) AS ${ident(columns[i][0])}`))}`), ' UNION ALL ')
    : sql`SELECT ${join(columns.map(([n, t]) => sql`CAST(NULL AS ${trusted(t)}) AS ${ident(n)}`))} WHERE FALSE`;
  const format = file.endsWith('.csv') ? trusted('csv') : trusted('parquet');
  // UNION ALL of single-row selects keeps row order only with an explicit order column.
  const ordered = rows.length
    ? sql`SELECT * EXCLUDE (__ord) FROM (${join(rows.map((r, k) => sql`SELECT ${k} AS __ord, ${join(r.map((v, i) => sql`CAST(${v} AS ${trusted(columns[i][1])}) AS ${ident(columns[i][0])}`))}`), ' UNION ALL ')}) ORDER BY __ord`
    : select;
  await s.exec(sql`COPY (${ordered}) TO ${literal(file)} (FORMAT ${format})`);
  return file;
}

/** Reads a Parquet/CSV file back as row objects (JS values). */
export async function readTable(file: string): Promise<Record<string, unknown>[]> {
  const s = await session();
  const fn = file.endsWith('.csv') ? sql`read_csv(${file})` : sql`read_parquet(${file})`;
  return s.all(sql`SELECT * FROM ${fn}`);
}

export function tempDir(prefix = 'pitstop-offline-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** ISO text → epoch ms. */
export const ms = (iso: string): number => Date.parse(iso);

/**
 * Faster for many rows: writes a CSV from JS values (NULL as an empty field; strings must not
 * contain commas, quotes or newlines) and converts it with explicit column types.
 */
export async function writeBulk(file: string, columns: Column[], rows: SqlValue[][]): Promise<string> {
  const { writeFileSync } = await import('node:fs');
  mkdirSync(path.dirname(file), { recursive: true });
  const csv = `${file}.src.csv`;
  writeFileSync(csv, [columns.map((c) => c[0]).join(','), ...rows.map((r) => r.map((v) => (v === null ? '' : String(v))).join(','))].join('\n') + '\n');
  const s = await session();
  const types = sql`{${join(columns.map(([n, t]) => sql`${literal(n)}: ${literal(t)}`))}}`;
  const format = file.endsWith('.csv') ? trusted('csv') : trusted('parquet');
  await s.exec(sql`COPY (SELECT * FROM read_csv(${literal(csv)}, header = true, columns = ${types}, nullstr = '')) TO ${literal(file)} (FORMAT ${format})`);
  const { rmSync: rm } = await import('node:fs');
  rm(csv);
  return file;
}
