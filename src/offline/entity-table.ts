/**
 * The entity table of a historical retrieval (the left side of the point-in-time join): read
 * from a Parquet/CSV file or a SELECT, copied into a connection-local temp table so that its row
 * order is captured once (`rowid` follows insertion order) and it can be scanned once per view,
 * then checked: every join key the request needs and `event_timestamp` must be there, with
 * compatible types. Other columns are labels and pass through untouched.
 */
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { PitstopError } from '../core/errors.ts';
import type { JoinKey } from '../core/registry-model.ts';
import type { DuckDBSession } from './duckdb-session.ts';
import { ident, sql, userQuery, type Sql } from './sql.ts';
import type { SourceColumn } from './feature-table.ts';

export const ENTITY_TS_COLUMN = 'event_timestamp';

/** Where entity rows come from: a Parquet or CSV file (by extension), or a SELECT statement. */
export type EntitySource = { file: string } | { sql: string };

export interface EntityTable {
  /** Temp table name (connection-local). */
  table: string;
  /** Its columns, in file order: these are the output's first columns. */
  columns: SourceColumn[];
  /** Where the rows came from, for messages. */
  label: string;
}

export function describeEntitySource(src: EntitySource): string {
  return 'file' in src ? `entity file ${src.file}` : 'entity query (--entities-sql)';
}

/** Reads the entity rows into a temp table on `conn` and describes it. */
export async function loadEntityTable(session: DuckDBSession, conn: DuckDBConnection, src: EntitySource, table = '__ps_entities'): Promise<EntityTable> {
  const label = describeEntitySource(src);
  let scan: Sql;
  if ('file' in src) {
    const ext = path.extname(src.file).toLowerCase();
    if (ext === '.parquet' || ext === '.pq') scan = sql`read_parquet(${src.file})`;
    else if (ext === '.csv') scan = sql`read_csv(${src.file}, header = true)`;
    else throw new PitstopError('USAGE', `${label}: unknown format "${ext}" (use .parquet or .csv)`);
  } else {
    await checkSingleSelect(conn, src.sql);
    scan = sql`(${userQuery(src.sql)})`;
  }
  try {
    await session.exec(sql`CREATE OR REPLACE TEMP TABLE ${ident(table)} AS SELECT * FROM ${scan} AS __ps_entity_src`, conn);
  } catch (e) {
    const err = e as PitstopError;
    const reason = err.reason === 'SOURCE_UNREADABLE' ? 'SOURCE_UNREADABLE' : 'ENTITY_TABLE_INVALID';
    throw new PitstopError(reason, `cannot read ${label}: ${err.message}`, { cause: e });
  }
  const columns = await session.describe(sql`SELECT * FROM ${ident(table)}`, conn);
  return { table, columns, label };
}

/** `--entities-sql` must be exactly one SELECT: it is the user's own query, never a script. */
async function checkSingleSelect(conn: DuckDBConnection, text: string): Promise<void> {
  let count: number;
  try {
    count = (await conn.extractStatements(text)).count;
  } catch (e) {
    throw new PitstopError('ENTITY_TABLE_INVALID', `entity query (--entities-sql) does not parse: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  if (count !== 1) throw new PitstopError('ENTITY_TABLE_INVALID', `entity query (--entities-sql) must be a single SELECT statement, got ${count} statements`);
  if (!/^\s*(\(|select\b|with\b|from\b|values\b)/i.test(text)) {
    throw new PitstopError('ENTITY_TABLE_INVALID', 'entity query (--entities-sql) must be a SELECT (or WITH ... SELECT) statement');
  }
}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'HUGEINT', 'UHUGEINT']);

/** Checks the columns a request needs; collects every problem before failing. */
export function checkEntityColumns(e: EntityTable, joinKeys: readonly JoinKey[]): void {
  const byName = new Map(e.columns.map((c) => [c.name, c]));
  const problems: string[] = [];
  const ts = byName.get(ENTITY_TS_COLUMN);
  if (!ts) problems.push(`no "${ENTITY_TS_COLUMN}" column`);
  else if (!isTimestampLike(ts.type)) problems.push(`column "${ENTITY_TS_COLUMN}" has type ${ts.type}, expected a timestamp (TIMESTAMP, TIMESTAMPTZ, DATE or ISO text)`);
  for (const k of joinKeys) {
    const c = byName.get(k.name);
    if (!c) {
      problems.push(`no join key column "${k.name}"`);
      continue;
    }
    const t = c.type.toUpperCase();
    const ok = k.type === 'int32' || k.type === 'int64' ? INTEGER_TYPES.has(t) : k.type === 'string' ? t === 'VARCHAR' : t === 'BLOB';
    if (!ok) problems.push(`join key column "${k.name}" has type ${c.type}, expected ${k.type}`);
  }
  if (problems.length) {
    throw new PitstopError('ENTITY_TABLE_INVALID', `${e.label}: ${problems.join('; ')} (columns: ${e.columns.map((c) => `${c.name} ${c.type}`).join(', ')})`);
  }
}

export function isTimestampLike(type: string): boolean {
  const t = type.toUpperCase();
  return t.startsWith('TIMESTAMP') || t === 'DATE' || t === 'VARCHAR';
}

/** `event_timestamp` as epoch µs, UTC (naive means UTC; text may carry an offset). */
export function entityTimeMicros(e: EntityTable, qualifier: string): Sql {
  const c = e.columns.find((x) => x.name === ENTITY_TS_COLUMN)!;
  const col = sql`${ident(qualifier)}.${ident(c.name)}`;
  return c.type.toUpperCase() === 'VARCHAR' ? sql`epoch_us(CAST(${col} AS TIMESTAMPTZ))` : sql`epoch_us(${col})`;
}
