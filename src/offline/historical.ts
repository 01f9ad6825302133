/**
 * Historical retrieval (point-in-time correct training data): the library API.
 *
 *   const job = await store.historical(snapshot, { entities: { file }, features: ['v:f'] });
 *   try { await job.writeFile('train.parquet') } finally { await job.close() }
 *
 * A job owns one DuckDB connection holding the entity table; it is compiled once (`job.sql`) and
 * then run as an apache-arrow Table, a stream of RecordBatches, or straight into a Parquet/CSV
 * file by DuckDB's COPY (rows never pass through Node's heap). Files are written under a temp
 * name and renamed when complete, so a failure leaves no partial output.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { Table, type RecordBatch } from 'apache-arrow';
import { PitstopError } from '../core/errors.ts';
import { duckdbType, type FeatureType, type ScalarType } from '../core/feature-types.ts';
import type { RegistrySnapshot } from '../core/registry-model.ts';
import { resolveRefs, resolveService, type ResolvedRequest } from '../registry/resolve.ts';
import { DEFAULT_BATCH_ROWS, arrowSchema, toRecordBatches, type ArrowColumn } from './arrow-batches.ts';
import type { DuckDBSession } from './duckdb-session.ts';
import { checkEntityColumns, loadEntityTable, ENTITY_TS_COLUMN, entityTimeMicros, type EntitySource, type EntityTable } from './entity-table.ts';
import { featureTableSql, forArrow } from './feature-table.ts';
import { planFeatureRows, type OfflineLocations } from './feature-rows.ts';
import { pitQuerySql, type PitView } from './pit-query.ts';
import { ident, join, sql, trusted, type Sql } from './sql.ts';

export interface HistoricalRequest {
  entities: EntitySource;
  /** Feature references (`view:feature`, `view@2:feature`); or use `featureService`. */
  features?: readonly string[];
  featureService?: string;
  /** Name features `view__feature`; default false (`feature`, collisions are an error). */
  fullFeatureNames?: boolean;
  /** Also require created_ts <= the entity row's time; default false. */
  filterByCreatedTimestamp?: boolean;
  /** Read offline materializations when they cover the request; default true. */
  useMaterializations?: boolean;
}

export interface ViewOrigin {
  view: string;
  version: number;
  /** Where its rows come from: the offline materialization or the source (and why). */
  origin: string;
}

export class HistoricalJob {
  private closed = false;

  /** @internal built by `prepareHistorical`. */
  constructor(
    private readonly session: DuckDBSession,
    private readonly conn: DuckDBConnection,
    /** The compiled query. */
    readonly sql: Sql,
    /** Output columns and their DuckDB types. */
    readonly columns: ReadonlyArray<{ name: string; type: string }>,
    readonly origins: readonly ViewOrigin[],
  ) {}

  /** The query as runnable text with values inlined (what `explain` prints). */
  explain(): string {
    return this.sql.inline();
  }

  /** Streams the result as RecordBatches (`batchRows` rows each; default 65536). */
  async *batches(options: { batchRows?: number } = {}): AsyncGenerator<RecordBatch> {
    const arrowCols = this.columns.map((c) => arrowColumn(c.name, c.type));
    const projected = sql`SELECT ${join(arrowCols.map((c) => c.expr))} FROM (${this.sql}) AS __ps_out`;
    const result = await this.session.stream(projected, this.conn);
    yield* toRecordBatches(result, arrowCols, options.batchRows ?? DEFAULT_BATCH_ROWS);
  }

  /** The whole result as one apache-arrow Table (collects in memory: use `writeFile` for big ones). */
  async toTable(): Promise<Table> {
    const batches: RecordBatch[] = [];
    for await (const b of this.batches()) batches.push(b);
    return batches.length ? new Table(batches) : new Table(arrowSchema(this.columns.map((c) => arrowColumn(c.name, c.type))));
  }

  /**
   * Writes the result to `file`, format by extension (.parquet, .csv), streamed by DuckDB's COPY.
   * Returns the number of rows written.
   */
  async writeFile(file: string): Promise<number> {
    const format = outputFormat(file);
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const rows = await this.session.exec(sql`COPY (${this.sql}) TO ${tmp} (${trusted(format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet')})`, this.conn);
      renameSync(tmp, file);
      return rows;
    } finally {
      if (existsSync(tmp)) rmSync(tmp, { force: true });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.conn.closeSync(); // drops the entity temp table with it
  }
}

export function outputFormat(file: string): 'parquet' | 'csv' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.csv') return 'csv';
  throw new PitstopError('USAGE', `output file ${file}: unknown format "${ext}" (use .parquet or .csv)`);
}

export function resolveRequest(snapshot: RegistrySnapshot, req: HistoricalRequest): ResolvedRequest {
  const full = req.fullFeatureNames ?? false;
  if (req.featureService !== undefined && req.features?.length) throw new PitstopError('USAGE', 'give features or a feature service, not both');
  if (req.featureService !== undefined) return resolveService(snapshot, req.featureService, full);
  if (!req.features?.length) throw new PitstopError('USAGE', 'no features requested (give features or a feature service)');
  return resolveRefs(snapshot, req.features, full);
}

/** Resolves, loads and checks the entity table, plans each view and compiles the query. */
export async function prepareHistorical(session: DuckDBSession, loc: OfflineLocations, snapshot: RegistrySnapshot, req: HistoricalRequest): Promise<HistoricalJob> {
  const resolved = resolveRequest(snapshot, req);
  const conn = await session.connect();
  try {
    const entity = await loadEntityTable(session, conn, req.entities);
    checkEntityColumns(entity, resolved.views.flatMap((v) => v.view.joinKeys));
    const span = await entitySpan(session, conn, entity);
    const views: PitView[] = [];
    const origins: ViewOrigin[] = [];
    for (const v of resolved.views) {
      const ttlUs = BigInt(v.view.ttlMs) * 1000n;
      const needed = { startUs: span.min === undefined || ttlUs === 0n ? undefined : span.min - ttlUs, endUs: span.max };
      // The plain plan reads only the tie winners of a materialization (no tie-break needed then,
      // unless pushed rows join in); the created-time filter needs every row.
      const latestOnly = !(req.filterByCreatedTimestamp ?? false);
      const plan = await planFeatureRows(session, loc, v.view, { needed, preferMaterialized: req.useMaterializations ?? true, latestOnly });
      const rows = plan.spec.rows;
      const tiesResolved = rows.kind === 'empty' || (rows.kind === 'materialized' && rows.latestOnly === true);
      const hasCreated = plan.spec.pushLogGlob !== undefined || (!tiesResolved && v.view.source.createdTimestampField !== undefined);
      views.push({ request: v, featureTable: featureTableSql(plan.spec), hasCreated });
      origins.push({ view: v.view.name, version: v.view.version, origin: plan.origin });
    }
    const query = pitQuerySql({ entity, views, filterByCreatedTimestamp: req.filterByCreatedTimestamp ?? false });
    const columns = await session.describe(query, conn);
    return new HistoricalJob(session, conn, query, columns, origins);
  } catch (e) {
    conn.closeSync();
    throw e;
  }
}

/** Earliest and latest entity time (µs), which decide whether a materialization covers the request. */
async function entitySpan(session: DuckDBSession, conn: DuckDBConnection, e: EntityTable): Promise<{ min?: bigint; max?: bigint }> {
  try {
    const [r] = await session.all(sql`SELECT min(${entityTimeMicros(e, 'x')}) AS lo, max(${entityTimeMicros(e, 'x')}) AS hi FROM ${ident(e.table)} AS x`, conn);
    return { min: r.lo == null ? undefined : BigInt(r.lo as bigint), max: r.hi == null ? undefined : BigInt(r.hi as bigint) };
  } catch (err) {
    throw new PitstopError('ENTITY_TABLE_INVALID', `${e.label}: column "${ENTITY_TS_COLUMN}" has values that are not timestamps: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * How an output column travels to Arrow: features and labels of the usual types keep theirs;
 * timestamps travel as epoch µs (Timestamp(µs, UTC) in Arrow); anything exotic (HUGEINT, UUID,
 * MAP, STRUCT...) as text, DECIMAL as double, so the Arrow side stays within pitstop's types.
 */
function arrowColumn(name: string, duckType: string): ArrowColumn & { expr: Sql } {
  const t = duckType.toUpperCase();
  const list = /^(.*)\[\]$/.exec(t);
  const elem = list ? scalarFor(list[1]) : undefined;
  const type: FeatureType = list ? (elem ? (`list<${elem}>` as FeatureType) : 'string') : scalarFor(t) ?? 'string';
  const expr = type === 'timestamp' || type === 'list<timestamp>' ? forArrow(name, type) : sql`CAST(${ident(name)} AS ${trusted(duckdbType(type))}) AS ${ident(name)}`;
  return { name, type, expr };
}

function scalarFor(t: string): ScalarType | undefined {
  if (t === 'BIGINT' || t === 'UINTEGER') return 'int64';
  if (t === 'INTEGER' || t === 'SMALLINT' || t === 'TINYINT' || t === 'UTINYINT' || t === 'USMALLINT') return 'int32';
  if (t === 'DOUBLE' || t.startsWith('DECIMAL')) return 'float64';
  if (t === 'FLOAT') return 'float32';
  if (t === 'BOOLEAN') return 'bool';
  if (t === 'VARCHAR') return 'string';
  if (t === 'BLOB') return 'bytes';
  if (t.startsWith('TIMESTAMP') || t === 'DATE') return 'timestamp';
  return undefined;
}
