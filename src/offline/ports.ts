/**
 * The offline store port used by materialization: it reads a feature view version's source
 * (after field mapping and feature expressions) and hands back, per entity, the latest row in a
 * time range, streamed as Arrow record batches so memory stays flat whatever the data size.
 */
import type { RecordBatch } from 'apache-arrow';
import type { FeatureViewVersion } from '../core/registry-model.ts';

/** Column names of the batches `readLatest` yields, besides join keys (by name) and features (by name). */
export const EVENT_TS_MS_COLUMN = '__event_ts_ms';
export const CREATED_TS_MS_COLUMN = '__created_ts_ms';

export interface TimeRange {
  /** Inclusive lower bound on event time, epoch ms. */
  startMs: number;
  /** Exclusive upper bound on event time, epoch ms. */
  endMs: number;
}

export interface OfflineReader {
  /**
   * For each entity key of `view`, its latest row with event time in `range` (ties broken by the
   * larger created timestamp). Columns: the view's join keys, `__event_ts_ms` (BIGINT epoch ms),
   * `__created_ts_ms` (BIGINT epoch ms, or null when the source has no created timestamp), then
   * one column per feature in view order, typed as `duckdbType(feature.type)`. Pushed rows from
   * the offline push log are included.
   */
  readLatest(view: FeatureViewVersion, range: TimeRange, options?: { batchRows?: number }): AsyncIterable<RecordBatch>;
  close(): Promise<void>;
}

/**
 * One pushed row as the offline push log receives it: the row the online store got, decoded
 * (so offline sees exactly the values online got). Join key values in `view.joinKeys` order;
 * event and created time in epoch ms; feature values in `view.features` order, as the online
 * codecs decode them: number, bigint (int64), boolean, string, Buffer (bytes), epoch ms
 * (timestamp), arrays for lists, null.
 */
export interface PushLogRow {
  keys: readonly unknown[];
  eventMs: number;
  createdMs: number | null;
  values: readonly unknown[];
}

/** The offline push log: appends one accepted batch (see `pushLogDir`). */
export interface PushLog {
  /** Append the rows of one batch of `view`; resolves with the file written. Atomic: the file appears whole or not at all. */
  append(view: FeatureViewVersion, rows: readonly PushLogRow[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * Where pushed rows are appended for training (`push --offline`): one Parquet file per accepted
 * batch under `<offline data_dir>/push/<view>/v<version>/`, with the view's join keys, `event_ts`
 * and `created_ts` (TIMESTAMPTZ) and one column per feature (already computed, no expressions).
 * Historical retrieval and `readLatest` union these with the source.
 */
export function pushLogDir(offlineDataDir: string, view: string, version: number): string {
  return `${offlineDataDir}/push/${view}/v${version}`;
}
