/**
 * Runs historical retrievals in tests: entity rows are written to a Parquet file, the result
 * comes back as plain row objects (from the apache-arrow Table the library API returns).
 */
import path from 'node:path';
import type { RegistrySnapshot } from '../../../src/core/registry-model.ts';
import { DuckDBOfflineStore } from '../../../src/offline/duckdb-offline-store.ts';
import type { HistoricalRequest } from '../../../src/offline/historical.ts';
import { writeTable, type Column } from './data.ts';
import type { SqlValue } from '../../../src/offline/sql.ts';

let counter = 0;

export async function openStore(dir: string): Promise<DuckDBOfflineStore> {
  return DuckDBOfflineStore.create({ repoDir: dir, offlineDataDir: path.join(dir, 'offline'), threads: 1 });
}

export async function retrieveRows(
  store: DuckDBOfflineStore,
  snapshot: RegistrySnapshot,
  entity: { columns: Column[]; rows: SqlValue[][] },
  request: Omit<HistoricalRequest, 'entities'>,
): Promise<Record<string, unknown>[]> {
  const file = await writeTable(path.join(store.locations.repoDir, `entities-${++counter}.parquet`), entity.columns, entity.rows);
  const table = await store.historicalTable(snapshot, { entities: { file }, ...request });
  return table.toArray().map((r) => r.toJSON());
}

/** Plain values for comparisons: bigint → number. */
export function plain(rows: Record<string, unknown>[], cols: string[]): unknown[][] {
  return rows.map((r) => cols.map((c) => (typeof r[c] === 'bigint' ? Number(r[c]) : r[c])));
}
