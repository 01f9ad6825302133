/**
 * Composition root for the online store: the only place that imports the concrete adapters.
 * Adapters are picked from a static map keyed by `online_store.type`, and each is imported when
 * it is opened: a `pitstop serve` on Redis never loads LMDB (17 MB outside the JS heap) and
 * loads DuckDB only on the first offline push, so its heap holds only what serving uses (a
 * smaller heap is a shorter mark-compact, which is serving latency: docs/benchmarks.md).
 */
import type { ResolvedConfig } from '../config/load.ts';
import type { OnlineStoreConfig } from '../config/schema.ts';
import type { OnlineReader, OnlineWriter } from '../online/ports.ts';
import type { PushLog } from '../offline/ports.ts';
import type { FeatureViewVersion } from '../core/registry-model.ts';
export { lookupOnline } from '../online/lookup.ts';
import type { OfflineReader } from '../offline/ports.ts';
import { materialize as materializeViews, materializeIncremental as materializeViewsIncremental, type RowEstimator } from '../materialize/materialize.ts';
// Materialization and push logic, for the CLI (which reaches everything through app/).
export { selectViews } from '../materialize/materialize.ts';
export { progressReporter } from '../materialize/progress.ts';
export { pushRows } from '../materialize/push.ts';

export type OnlineStore = OnlineReader & OnlineWriter;

/**
 * The offline reader with a row estimate for progress ETAs (the optional `RowEstimator` port
 * method). The DuckDB offline store has its own `estimateRows` (a distinct count of the entity
 * keys with an event in the range: join keys and timestamps only, no ranking), so every reader is
 * used as is; kept so callers need not know which readers estimate. Materialization never waits
 * for the estimate longer than `estimateWaitMs`; a later answer still gives the bar its total
 * and ETA.
 */
export function withRowEstimate(offline: OfflineReader): OfflineReader & Partial<RowEstimator> {
  return offline;
}

/** `materialize` (src/materialize) with the offline reader's row estimate wired in (see `withRowEstimate`). */
export const materialize: typeof materializeViews = (views, range, deps, options) => materializeViews(views, range, { ...deps, offline: withRowEstimate(deps.offline) }, options);

/** `materializeIncremental` (src/materialize) with the row estimate wired in. */
export const materializeIncremental: typeof materializeViewsIncremental = (views, endMs, deps, options) =>
  materializeViewsIncremental(views, endMs, { ...deps, offline: withRowEstimate(deps.offline) }, options);

/** How a store is opened: `serving` turns on what only a long-running server wants (the Redis near cache). */
export interface OpenOptions {
  serving?: boolean;
}

type Opener = (config: ResolvedConfig, options: OpenOptions) => Promise<OnlineStore>;

const ADAPTERS: { [T in OnlineStoreConfig['type']]: Opener } = {
  embedded: async (config) => {
    const { EmbeddedOnlineStore } = await import('../online/embedded/embedded-store.ts');
    return EmbeddedOnlineStore.create({ dir: config.paths.embeddedOnline });
  },
  redis: async (config, options) => {
    const { RedisOnlineStore } = await import('../online/redis/redis-store.ts');
    const c = config.online_store as Extract<OnlineStoreConfig, { type: 'redis' }>;
    return RedisOnlineStore.create({
      url: c.url,
      clusterNodes: c.cluster_nodes,
      keyPrefix: c.key_prefix,
      project: config.project,
      connectTimeoutMs: c.connect_timeout_ms,
      commandTimeoutMs: c.command_timeout_ms,
      directReads: c.direct_reads,
      // Only a server keeps a near cache: a CLI command reads once (and `consistency` must read Redis itself).
      nearCacheBytes: options.serving ? Math.round(c.near_cache_mb * 1024 * 1024) : 0,
    });
  },
};

/** Reader and writer over the configured online store (materialize, push, `online get`; `serve` with `{ serving: true }`). */
export function openOnlineStore(config: ResolvedConfig, options: OpenOptions = {}): Promise<OnlineStore> {
  return ADAPTERS[config.online_store.type](config, options);
}

/** The reader alone (serving). Connects and pings; rejects ONLINE_STORE_UNAVAILABLE. */
export function openOnlineReader(config: ResolvedConfig): Promise<OnlineReader> {
  return openOnlineStore(config);
}

/** The writer alone (materialization, push). */
export function openOnlineWriter(config: ResolvedConfig): Promise<OnlineWriter> {
  return openOnlineStore(config);
}

/** The offline push log (Parquet under `<offline data_dir>/push/`), for `push --offline` and the Push RPC. */
export async function openPushLog(config: ResolvedConfig): Promise<PushLog> {
  const { DuckDBPushLog } = await import('../offline/duckdb-push-log.ts');
  return DuckDBPushLog.create(config.paths.offlineData);
}

/** The rows of a push file (JSON, NDJSON, CSV or Parquet: offline/duckdb-push-file.ts), for `pitstop push`. */
export async function readPushFile(view: FeatureViewVersion, file: string): Promise<Record<string, unknown>[]> {
  return (await import('../offline/duckdb-push-file.ts')).readPushFile(view, file);
}
