/**
 * Composition root for the offline store: the only place that names the DuckDB adapter. Settings
 * come from pitstop.yaml's `offline` section (memory_limit, threads, temp_directory, data_dir).
 */
import type { ResolvedConfig } from '../config/load.ts';
import { DuckDBOfflineStore } from '../offline/duckdb-offline-store.ts';
import type { OfflineReader } from '../offline/ports.ts';

/** The offline store: the `OfflineReader` port plus historical retrieval and offline materialization. */
export type OfflineStore = DuckDBOfflineStore;

/** Opens the offline store for a feature repository. Close it when done. */
export async function openOfflineStore(config: ResolvedConfig): Promise<OfflineStore> {
  return DuckDBOfflineStore.create({
    repoDir: config.repoDir,
    offlineDataDir: config.paths.offlineData,
    memoryLimit: config.offline.memory_limit,
    threads: config.offline.threads,
    tempDirectory: config.paths.tempDirectory,
  });
}

/** The port materialization depends on (same object, narrowed). */
export async function openOfflineReader(config: ResolvedConfig): Promise<OfflineReader> {
  return openOfflineStore(config);
}

export type { HistoricalRequest, HistoricalJob, ViewOrigin } from '../offline/historical.ts';
export type { MaterializeOfflineRange, MaterializeOfflineResult } from '../offline/materialize-offline.ts';
export { formatIntervals } from '../offline/materialization-manifest.ts';
