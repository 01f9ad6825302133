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
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { Table, type RecordBatch } from 'apache-arrow';
import { PitstopError } from '../core/errors.ts';
import { duckdbType, type FeatureType, type ScalarType } from '../core/feature-types.ts';
import type { FeatureViewVersion, RegistrySnapshot } from '../core/registry-model.ts';
import { resolveRefs, resolveService, type ResolvedRequest } from '../registry/resolve.ts';
import { DEFAULT_BATCH_ROWS, arrowSchema, toRecordBatches, type ArrowColumn } from './arrow-batches.ts';
import type { DuckDBSession } from './duckdb-session.ts';
import { checkEntityColumns, loadEntityTable, ENTITY_TS_COLUMN, entityTimeMicros, type EntitySource, type EntityTable } from './entity-table.ts';
import { CR, EV, featureTableSql, forArrow, type FeatureTableSpec } from './feature-table.ts';
import { planFeatureRows, type OfflineLocations } from './feature-rows.ts';
import { guardedPackedOrder, packedOrder, pitQuerySql, TIE_GUESS_FAILED, type PitView, type TieOrder } from './pit-query.ts';
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
  /**
   * How ties on event time are ordered by created time in the ASOF plan: `auto` (default) packs
   * (event, created) into one BIGINT when the data's spans allow and compares a struct otherwise;
   * `struct` always compares the struct (slower; exists to measure the fallback); `measure` never
   * guesses the spans from Parquet footers and a sample, it always measures them (one pass).
   */
  tieOrder?: 'auto' | 'struct' | 'measure';
}

/** Guessed tie orders of a job: remember them once a run proves them, or measure them instead. */
interface TieGuess {
  proven(): void;
  measured(): Promise<Sql>;
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
    private query: Sql,
    /** Output columns and their DuckDB types. */
    readonly columns: ReadonlyArray<{ name: string; type: string }>,
    readonly origins: readonly ViewOrigin[],
    /** When some tie orders were guessed: what to do when a run proves the guess right or wrong. */
    private guess?: TieGuess,
  ) {}

  /** The compiled query. */
  get sql(): Sql {
    return this.query;
  }

  /**
   * Runs `fn` on the query. With guessed tie orders, a row that does not fit one fails the
   * query (`TIE_GUESS_FAILED`) before any row is produced (the ASOF join reads all feature rows,
   * and the final sort all joined rows, before the first comes out): the orders are then
   * measured, the query rebuilt and run again. A run that completes proves the guesses.
   */
  private async run<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    const guess = this.guess;
    if (!guess) return fn(this.query);
    let result: T;
    try {
      result = await fn(this.query);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.includes(TIE_GUESS_FAILED)) throw e;
      this.guess = undefined;
      this.query = await guess.measured();
      return fn(this.query);
    }
    this.guess = undefined;
    guess.proven();
    return result;
  }

  /** The query as runnable text with values inlined (what `explain` prints). */
  explain(): string {
    return this.sql.inline();
  }

  /** Streams the result as RecordBatches (`batchRows` rows each; default 65536). */
  async *batches(options: { batchRows?: number } = {}): AsyncGenerator<RecordBatch> {
    const arrowCols = this.columns.map((c) => arrowColumn(c.name, c.type));
    const { it, head } = await this.run(async (q) => {
      const projected = sql`SELECT ${join(arrowCols.map((c) => c.expr))} FROM (${q}) AS __ps_out`;
      const result = await this.session.stream(projected, this.conn);
      const batches = toRecordBatches(result, arrowCols, options.batchRows ?? DEFAULT_BATCH_ROWS)[Symbol.asyncIterator]();
      return { it: batches, head: await batches.next() }; // the first batch comes after all rows are joined
    });
    try {
      for (let n = head; !n.done; n = await it.next()) yield n.value;
    } finally {
      await it.return?.(undefined); // a consumer that stops early ends the inner stream too
    }
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
    try {
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    } catch (e) {
      throw new PitstopError('OFFLINE_QUERY_FAILED', `cannot write ${file}: ${(e as Error).message}`, { cause: e });
    }
    const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      let rows: number;
      try {
        rows = await this.run((q) => this.session.exec(sql`COPY (${q}) TO ${tmp} (${trusted(format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet')})`, this.conn));
      } catch (e) {
        // A failure to write the output is not an unreadable source: say which file.
        const err = e as PitstopError;
        if (err.message.includes(tmp)) throw new PitstopError('OFFLINE_QUERY_FAILED', `cannot write ${file}: ${err.message.replaceAll(tmp, file)}`, { cause: e });
        throw e;
      }
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
    const specs: FeatureTableSpec[] = [];
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
      const hasCreated = plan.spec.pushLogFiles !== undefined || (!tiesResolved && v.view.source.createdTimestampField !== undefined);
      const featureTable = featureTableSql(plan.spec);
      const order: TieOrder = !hasCreated || req.filterByCreatedTimestamp ? { kind: 'event' } : req.tieOrder === 'struct' ? { kind: 'struct' } : await tieOrder(session, conn, featureTable, plan.spec, v.view, req.tieOrder !== 'measure');
      const asofRows = plan.spec.rows.kind === 'source' ? featureTableSql(plan.spec, { nullEvents: true }) : undefined;
      views.push({ request: v, featureTable, asofRows, order });
      specs.push(plan.spec);
      origins.push({ view: v.view.name, version: v.view.version, origin: plan.origin });
    }
    const filterByCreatedTimestamp = req.filterByCreatedTimestamp ?? false;
    const query = pitQuerySql({ entity, views, filterByCreatedTimestamp });
    const columns = await session.describe(query, conn);
    const guessed = views.map((_, i) => i).filter((i) => views[i].order.kind === 'packed' && (views[i].order as { guard?: unknown }).guard !== undefined);
    const guess: TieGuess | undefined = guessed.length === 0 ? undefined : {
      proven: () => {
        for (const i of guessed) rememberTieOrder(session, views[i].featureTable, specs[i], views[i].order);
      },
      measured: async () => {
        const fixed = [...views];
        for (const i of guessed) {
          const order = await measureTieOrder(session, conn, views[i].featureTable);
          rememberTieOrder(session, views[i].featureTable, specs[i], order);
          fixed[i] = { ...views[i], order };
        }
        return pitQuerySql({ entity, views: fixed, filterByCreatedTimestamp });
      },
    };
    return new HistoricalJob(session, conn, query, columns, origins, guess);
  } catch (e) {
    conn.closeSync();
    throw e;
  }
}

/**
 * Tie orders measured (or guessed and proven by a complete run) per session, keyed by the feature table's SQL and the identity of every
 * file it reads (path, size, mtime, inode): source files are pinned when a retrieval is planned,
 * so the same key means the same rows, and a rewritten file (new size, mtime or inode) is
 * measured again. Only source-backed feature tables (plus their push log) are cached.
 */
const tieOrderCache = new WeakMap<DuckDBSession, Map<string, TieOrder>>();
const TIE_CACHE_ENTRIES = 256;

function tieCacheKey(featureTable: Sql, spec: FeatureTableSpec): string | undefined {
  if (spec.rows.kind !== 'source') return undefined;
  const stamps: string[] = [];
  for (const f of [...spec.rows.files, ...(spec.pushLogFiles ?? [])]) {
    try {
      const st = statSync(f, { bigint: true });
      stamps.push(`${f}\u0000${st.size}\u0000${st.mtimeNs}\u0000${st.ino}`);
    } catch {
      return undefined; // gone or unreadable: measure (the query will say what is wrong)
    }
  }
  const { text, params } = featureTable.render();
  return JSON.stringify([text, params.map(String), stamps]);
}

/**
 * How a view's ties are ordered: remembered for the same files (`tieOrderCache`), else guessed
 * and checked at run time (`guessTieOrder`), else measured (`measureTieOrder`: one aggregate pass
 * over the event and created times; the struct order when the spans do not pack).
 */
async function tieOrder(session: DuckDBSession, conn: DuckDBConnection, featureTable: Sql, spec: FeatureTableSpec, view: FeatureViewVersion, mayGuess: boolean): Promise<TieOrder> {
  const key = tieCacheKey(featureTable, spec);
  const hit = key === undefined ? undefined : tieOrderCache.get(session)?.get(key);
  if (hit) return hit;
  const guessed = mayGuess ? await guessTieOrder(session, conn, featureTable, spec, view) : undefined;
  if (guessed) return guessed;
  const order = await measureTieOrder(session, conn, featureTable);
  rememberTieOrder(session, featureTable, spec, order);
  return order;
}

/** Remembers a measured (or proven) tie order for the same feature table over the same files. */
function rememberTieOrder(session: DuckDBSession, featureTable: Sql, spec: FeatureTableSpec, order: TieOrder): void {
  const key = tieCacheKey(featureTable, spec);
  if (key === undefined) return;
  const proven: TieOrder = order.kind === 'packed' && order.guard ? { ...order, guard: undefined } : order;
  let cache = tieOrderCache.get(session);
  if (!cache) tieOrderCache.set(session, (cache = new Map()));
  if (cache.size >= TIE_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, proven);
}

/**
 * A tie order guessed without reading the rows: the event-time range from the Parquet footers'
 * statistics, the event unit and the created − event window from the first 65,536 rows (widened
 * as far as the packing allows). The order column checks every row against it, and a row that
 * does not fit fails the query, which is then run again with measured orders (see
 * `HistoricalJob.run`), so a wrong guess costs time, never a wrong row. Only for Parquet sources
 * with timestamp columns and no push log, whose footers have statistics; undefined otherwise.
 */
async function guessTieOrder(session: DuckDBSession, conn: DuckDBConnection, featureTable: Sql, spec: FeatureTableSpec, view: FeatureViewVersion): Promise<TieOrder | undefined> {
  const rows = spec.rows;
  if (rows.kind !== 'source' || rows.format !== 'parquet' || spec.pushLogFiles?.length || spec.rangeUs) return undefined;
  const evCol = rows.columns.find((c) => c.name === view.source.timestampField);
  if (!evCol || !evCol.type.toUpperCase().startsWith('TIMESTAMP')) return undefined;
  const crName = view.source.createdTimestampField;
  const ev = ident(EV);
  const d = sql`(${ident(CR)} - ${ev})`;
  let meta: Record<string, unknown>;
  let sample: Record<string, unknown>;
  try {
    // The event range, and whether the footers promise no NULL created time (the order then
    // has no NULL rank; a NULL that turns up fails the row checks like any misfit).
    const isEv = sql`path_in_schema = ${evCol.name}`;
    [meta] = await session.all(sql`SELECT epoch_us(min(CASE WHEN ${isEv} THEN CAST(stats_min_value AS TIMESTAMPTZ) END)) AS e0,
        epoch_us(max(CASE WHEN ${isEv} THEN CAST(stats_max_value AS TIMESTAMPTZ) END)) AS e1,
        count(*) FILTER (WHERE ${isEv}) AS n, count(stats_min_value) FILTER (WHERE ${isEv}) AS n0, count(stats_max_value) FILTER (WHERE ${isEv}) AS n1,
        coalesce(bool_and(stats_null_count = 0) FILTER (WHERE path_in_schema = ${crName ?? evCol.name}), FALSE) AS no_null_created
      FROM parquet_metadata([${join([...rows.files])}])`, conn);
    if (meta.e0 == null || meta.e1 == null || Number(meta.n) === 0 || meta.n !== meta.n0 || meta.n !== meta.n1) return undefined;
    [sample] = await session.all(sql`SELECT min(${d}) AS d0, max(${d}) AS d1, coalesce(bool_and(${ev} % 1000 = 0), TRUE) AS ems
      FROM (SELECT ${ev}, ${ident(CR)} FROM (${featureTable}) AS __ps_ft LIMIT 65536) AS __ps_sample`, conn);
  } catch {
    return undefined; // footers without usable statistics, or a sample that fails: measure (which names any real problem)
  }
  const eventUnit = sample.ems === true ? 1000n : 1n;
  const e0 = BigInt(meta.e0 as bigint);
  const e1 = BigInt(meta.e1 as bigint);
  if (e0 % eventUnit !== 0n) return undefined;
  const d0 = sample.d0 == null ? 0n : BigInt(sample.d0 as bigint);
  const d1 = sample.d1 == null ? 0n : BigInt(sample.d1 as bigint);
  return guardedPackedOrder({ minEvent: e0, maxEvent: e1, eventUnit, minDelta: d0, maxDelta: d1, nullCreated: crName === undefined || meta.no_null_created !== true });
}

/**
 * Two steps, the second only when needed: first the spans, whether every event time is a whole
 * millisecond, and whether a created time is NULL (one modulo per row); packed with event unit
 * ms (or µs) and delta unit µs, typical data fits. Otherwise the full pass also checks whole
 * seconds for both and whole milliseconds for created − event, which packs wider spans.
 */
async function measureTieOrder(session: DuckDBSession, conn: DuckDBConnection, featureTable: Sql): Promise<TieOrder> {
  const ev = ident(EV);
  const d = sql`(${ident(CR)} - ${ev})`;
  const divides = (x: Sql, unit: number) => sql`coalesce(bool_and(${x} % ${trusted(String(unit))} = 0), TRUE)`;
  const spans = sql`min(${ev}) AS e0, max(${ev}) AS e1, min(${d}) AS d0, max(${d}) AS d1, count(*) > count(${ident(CR)}) AS nulls`;
  const big = (x: unknown) => (x == null ? undefined : BigInt(x as bigint));
  const unit = (s: unknown, ms: unknown) => (s === true ? 1_000_000n : ms === true ? 1000n : 1n);
  const stats = (r: Record<string, unknown>, eventUnit: bigint, deltaUnit: bigint) =>
    ({ minEvent: big(r.e0)!, maxEvent: big(r.e1)!, eventUnit, minDelta: big(r.d0), maxDelta: big(r.d1), deltaUnit, nullCreated: r.nulls === true });
  const [lite] = await session.all(sql`SELECT ${spans}, ${divides(ev, 1000)} AS ems FROM (${featureTable}) AS __ps_stats`, conn);
  if (lite.e0 == null || lite.e1 == null) return { kind: 'event' }; // no rows: nothing to break
  const quick = packedOrder(stats(lite, unit(false, lite.ems), 1n));
  if (quick) return quick;
  const [r] = await session.all(sql`SELECT ${spans},
    ${divides(ev, 1_000_000)} AS es, ${divides(ev, 1000)} AS ems, ${divides(d, 1_000_000)} AS ds, ${divides(d, 1000)} AS dms
    FROM (${featureTable}) AS __ps_stats`, conn);
  return packedOrder(stats(r, unit(r.es, r.ems), unit(r.ds, r.dms))) ?? { kind: 'struct' };
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
