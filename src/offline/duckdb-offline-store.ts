/**
 * The DuckDB offline store: implements the `OfflineReader` port (latest row per entity in a time
 * range, for materialization into the online store) over Parquet/CSV sources, the offline
 * materialization and the push log. Historical retrieval and offline materialization run on the
 * same session (see historical.ts and materialize-offline.ts).
 */
import type { RecordBatch, Table } from 'apache-arrow';
import type { FeatureViewVersion, RegistrySnapshot } from '../core/registry-model.ts';
import { materializeOffline, type MaterializeOfflineRange, type MaterializeOfflineResult } from './materialize-offline.ts';
import { prepareHistorical, type HistoricalJob, type HistoricalRequest } from './historical.ts';
import { DEFAULT_BATCH_ROWS, toRecordBatches, type ArrowColumn } from './arrow-batches.ts';
import { DuckDBSession, type DuckDBSettings } from './duckdb-session.ts';
import { CR, EV, featureTableSql, forArrow } from './feature-table.ts';
import { planFeatureRows, type OfflineLocations } from './feature-rows.ts';
import { CREATED_TS_MS_COLUMN, EVENT_TS_MS_COLUMN, type OfflineReader, type TimeRange } from './ports.ts';
import { ident, join, sql, type Sql } from './sql.ts';

export interface DuckDBOfflineStoreOptions extends OfflineLocations, DuckDBSettings {}

export class DuckDBOfflineStore implements OfflineReader {
  private constructor(readonly session: DuckDBSession, readonly locations: OfflineLocations) {}

  /** Opens an in-process DuckDB with the given settings. */
  static async create(options: DuckDBOfflineStoreOptions): Promise<DuckDBOfflineStore> {
    const session = await DuckDBSession.create(options);
    return new DuckDBOfflineStore(session, { repoDir: options.repoDir, offlineDataDir: options.offlineDataDir });
  }

  /** Where `readLatest` over `range` reads from: the feature table restricted to [start, end). */
  private async latestRows(view: FeatureViewVersion, range: TimeRange): Promise<{ table: Sql; origin: string }> {
    const startUs = BigInt(range.startMs) * 1000n;
    const endUs = BigInt(range.endMs) * 1000n;
    const plan = await planFeatureRows(this.session, this.locations, view, {
      needed: { startUs, endUs: endUs - 1n },
      rangeUs: { start: startUs, end: endUs },
      latestOnly: true, // only each (keys, event time) group's winner can be the latest row
    });
    return { table: featureTableSql(plan.spec), origin: plan.origin };
  }

  /** The SQL `readLatest` runs, and where its rows come from (for tests and `explain`). */
  async readLatestSql(view: FeatureViewVersion, range: TimeRange): Promise<{ query: Sql; origin: string }> {
    const { table, origin } = await this.latestRows(view, range);
    const keys = join(view.joinKeys.map((k) => ident(k.name)));
    const cols: Sql[] = [
      ...view.joinKeys.map((k) => ident(k.name)),
      sql`CAST(floor(${ident(EV)} / 1000) AS BIGINT) AS ${ident(EVENT_TS_MS_COLUMN)}`,
      sql`CAST(floor(${ident(CR)} / 1000) AS BIGINT) AS ${ident(CREATED_TS_MS_COLUMN)}`,
      ...view.features.map((f) => forArrow(f.name, f.type)),
    ];
    // Latest per key: largest event time, then largest created time (NULL created is oldest).
    const query = sql`SELECT ${join(cols)}
FROM (${table}) AS __ps_ft
QUALIFY row_number() OVER (PARTITION BY ${keys} ORDER BY ${ident(EV)} DESC, ${ident(CR)} DESC NULLS LAST) = 1`;
    return { query, origin };
  }

  /**
   * The query `estimateRows` runs: the number of distinct entity keys with an event in the range,
   * which is exactly how many rows `readLatest` yields. It reads the join keys and the event time
   * only (DuckDB prunes the rest) and needs no ranking.
   */
  async estimateRowsSql(view: FeatureViewVersion, range: TimeRange): Promise<Sql> {
    const { table } = await this.latestRows(view, range);
    const keys = join(view.joinKeys.map((k) => ident(k.name)));
    return sql`SELECT count(*) AS n FROM (SELECT DISTINCT ${keys} FROM (${table}) AS __ps_ft) AS __ps_keys`;
  }

  /**
   * How many rows `readLatest(view, range)` will yield: the materialize layer's optional
   * `RowEstimator` port method (progress totals and ETAs). Runs on a connection of its own, so it
   * may run beside a `readLatest` stream.
   */
  async estimateRows(view: FeatureViewVersion, range: TimeRange): Promise<number> {
    const query = await this.estimateRowsSql(view, range);
    const conn = await this.session.connect();
    try {
      const [row] = await this.session.all(query, conn);
      return Number(row.n);
    } finally {
      conn.closeSync();
    }
  }

  async *readLatest(view: FeatureViewVersion, range: TimeRange, options: { batchRows?: number } = {}): AsyncIterable<RecordBatch> {
    const { query } = await this.readLatestSql(view, range);
    const columns: ArrowColumn[] = [
      ...view.joinKeys.map((k) => ({ name: k.name, type: k.type })),
      { name: EVENT_TS_MS_COLUMN, type: 'int64' },
      { name: CREATED_TS_MS_COLUMN, type: 'int64' },
      ...view.features.map((f) => ({ name: f.name, type: f.type })),
    ];
    // Own connection: several reads may stream at once, and the main connection stays free.
    const conn = await this.session.connect();
    try {
      const result = await this.session.stream(query, conn);
      yield* toRecordBatches(result, columns, options.batchRows ?? DEFAULT_BATCH_ROWS);
    } finally {
      conn.closeSync();
    }
  }

  /**
   * Prepares a historical retrieval (entity table loaded and checked, query compiled). Run it with
   * `job.toTable()`, `job.batches()` or `job.writeFile(path)`, then `job.close()`.
   */
  historical(snapshot: RegistrySnapshot, request: HistoricalRequest): Promise<HistoricalJob> {
    return prepareHistorical(this.session, this.locations, snapshot, request);
  }

  /** Historical retrieval into an apache-arrow Table (in memory). */
  async historicalTable(snapshot: RegistrySnapshot, request: HistoricalRequest): Promise<Table> {
    const job = await this.historical(snapshot, request);
    try {
      return await job.toTable();
    } finally {
      await job.close();
    }
  }

  /** Historical retrieval as a stream of RecordBatches; the job closes when the stream ends. */
  async *historicalBatches(snapshot: RegistrySnapshot, request: HistoricalRequest, options: { batchRows?: number } = {}): AsyncGenerator<RecordBatch> {
    const job = await this.historical(snapshot, request);
    try {
      yield* job.batches(options);
    } finally {
      await job.close();
    }
  }

  /** Historical retrieval written to a Parquet/CSV file (by extension); returns the row count. */
  async historicalToFile(snapshot: RegistrySnapshot, request: HistoricalRequest, file: string): Promise<number> {
    const job = await this.historical(snapshot, request);
    try {
      return await job.writeFile(file);
    } finally {
      await job.close();
    }
  }

  /** Writes the view version's offline materialization for a range (default: all time). */
  materializeOffline(view: FeatureViewVersion, range: MaterializeOfflineRange = {}): Promise<MaterializeOfflineResult> {
    return materializeOffline(this.session, this.locations, view, range);
  }

  async close(): Promise<void> {
    this.session.close();
  }
}
