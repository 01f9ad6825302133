/**
 * Materialization: the latest row per entity of each feature view version, read from the
 * offline store as Arrow batches (OfflineReader port), encoded column-wise into online rows and
 * written through the OnlineWriter port with a bounded number of writes in flight, so memory
 * stays flat whatever the data size.
 *
 * Interrupted and run again, it converges to the state of an uninterrupted run: every write is
 * newer-wins (idempotent), and a view's watermark only moves after all its rows are written.
 */
import { PitstopError, isPitstopError } from '../core/errors.ts';
import type { FeatureViewVersion, RegistrySnapshot } from '../core/registry-model.ts';
import type { OfflineReader, TimeRange } from '../offline/ports.ts';
import { expireAtMs } from '../online/expiry.ts';
import type { ExpiryBackfill, OnlineWrite, OnlineWriter } from '../online/ports.ts';
import { lookupView } from '../registry/resolve.ts';
import type { WatermarkStore } from '../registry/store.ts';
import { ArrowRowConverter } from './arrow-rows.ts';

export interface MaterializeDeps {
  offline: OfflineReader;
  online: OnlineWriter;
  /** Where watermarks live (the registry store). Optional for `materialize`, required for incremental. */
  watermarks?: WatermarkStore;
  progress?: MaterializeProgress;
  /** Clock for record expiry; default Date.now. */
  now?: () => number;
}

export interface MaterializeOptions {
  /** Rows per Arrow batch asked from the offline store; default 16384. */
  batchRows?: number;
  /** Rows per `writeRows` call; default 2048. */
  writeChunkRows?: number;
  /** Most `writeRows` calls in flight at once; default 4. */
  maxInFlight?: number;
  /** Stop once this signal aborts (rows already written stay; a rerun completes the work). */
  signal?: AbortSignal;
  /**
   * How long to wait for the offline reader's row estimate before starting; default 200 ms. A
   * later estimate still reaches the progress reporter (`rowsEstimated`); the run never waits
   * longer for it.
   */
  estimateWaitMs?: number;
}

/**
 * Optional capability of an offline reader (an optional port method): a row estimate for
 * progress ETAs. Materialization asks for it beside the read, waits at most `estimateWaitMs`,
 * and ignores a failure.
 */
export interface RowEstimator {
  /**
   * About how many rows `readLatest(view, range)` will yield (entities with an event in the
   * range). May be approximate; should cost far less than the read (e.g. a count over join key
   * and timestamp columns only, or Parquet metadata).
   */
  estimateRows(view: FeatureViewVersion, range: TimeRange): Promise<number>;
}

export interface MaterializeProgress {
  /** `estimatedRows` when the estimate came within `estimateWaitMs`. */
  viewStarted(view: string, range: TimeRange, estimatedRows: number | undefined): void;
  /** An estimate that came after `viewStarted` (optional). */
  rowsEstimated?(view: string, estimatedRows: number): void;
  rowsWritten(view: string, rows: number): void;
  viewFinished(result: ViewMaterializeResult): void;
}

export interface ViewMaterializeResult {
  /** `view@version`. */
  view: string;
  range: TimeRange;
  /** Rows read from the offline store (latest per entity in the range). */
  rows: number;
  /** Rows that replaced an older stored row. */
  written: number;
  /** Rows dropped because the stored row was as new or newer. */
  stale: number;
  elapsedMs: number;
  /** The watermark after the run, when a watermark store was given. */
  watermarkMs?: number;
}

/**
 * The view versions a command names: `view` (its latest version) or `view@N`; none = every
 * online view's latest version plus any older live version a feature service pins (so pinned
 * references keep being served). A named view that is not online is VIEW_NOT_ONLINE.
 */
export function selectViews(snapshot: RegistrySnapshot, names: readonly string[] = []): FeatureViewVersion[] {
  if (names.length === 0) {
    const chosen = new Map<string, FeatureViewVersion>();
    const add = (v: FeatureViewVersion | undefined) => {
      if (v && v.online && !v.retired) chosen.set(`${v.name}@${v.version}`, v);
    };
    for (const d of Object.values(snapshot.featureViews)) add(d.versions[d.latest - 1]);
    for (const svc of Object.values(snapshot.featureServices)) {
      for (const ref of svc.features) add(snapshot.featureViews[ref.view]?.versions[ref.version - 1]);
    }
    return [...chosen.values()];
  }
  return names.map((n) => {
    const m = /^([^@]+)(?:@([1-9][0-9]*))?$/.exec(n);
    const v = lookupView(snapshot, m ? m[1] : n, m?.[2] ? Number(m[2]) : undefined);
    if (!v.online) throw new PitstopError('VIEW_NOT_ONLINE', `feature view "${v.name}" version ${v.version} is not online (online: false)`);
    return v;
  });
}

/** Materialize `views` for event times in [startMs, endMs). */
export async function materialize(
  views: readonly FeatureViewVersion[],
  range: TimeRange,
  deps: MaterializeDeps,
  options: MaterializeOptions = {},
): Promise<ViewMaterializeResult[]> {
  if (!(range.startMs < range.endMs)) throw new PitstopError('USAGE', `materialize: start (${new Date(range.startMs).toISOString()}) must be before end (${new Date(range.endMs).toISOString()})`);
  const results: ViewMaterializeResult[] = [];
  for (const view of views) {
    const result = await materializeView(view, range, deps, options);
    if (deps.watermarks) {
      // Advance only when this run covers from the watermark on (no gap left behind).
      const wm = await deps.watermarks.getWatermark(view.name, view.version);
      if (wm === undefined || range.startMs <= wm) {
        const next = Math.max(wm ?? range.endMs, range.endMs);
        await deps.watermarks.setWatermark(view.name, view.version, next);
        result.watermarkMs = next;
      } else result.watermarkMs = wm;
    }
    deps.progress?.viewFinished(result);
    results.push(result);
  }
  return results;
}

/**
 * Materialize each view version from its watermark (minus `lookbackMs`, so rows that arrived
 * late with an older event time are picked up) to `endMs`, then move the watermark to `endMs`.
 * A view never materialized starts at `endMs - ttl` (or the beginning of time without ttl).
 */
export async function materializeIncremental(
  views: readonly FeatureViewVersion[],
  endMs: number,
  deps: MaterializeDeps & { watermarks: WatermarkStore },
  options: MaterializeOptions & { lookbackMs?: number } = {},
): Promise<ViewMaterializeResult[]> {
  const results: ViewMaterializeResult[] = [];
  for (const view of views) {
    const wm = await deps.watermarks.getWatermark(view.name, view.version);
    const from = wm === undefined ? (view.ttlMs > 0 ? endMs - view.ttlMs : 0) : wm - (options.lookbackMs ?? 0);
    const range = { startMs: Math.max(0, from), endMs };
    let result: ViewMaterializeResult;
    if (range.startMs >= endMs) {
      result = { view: `${view.name}@${view.version}`, range, rows: 0, written: 0, stale: 0, elapsedMs: 0 };
    } else {
      result = await materializeView(view, range, deps, options);
    }
    const next = Math.max(wm ?? endMs, endMs);
    await deps.watermarks.setWatermark(view.name, view.version, next);
    result.watermarkMs = next;
    deps.progress?.viewFinished(result);
    results.push(result);
  }
  return results;
}

async function materializeView(view: FeatureViewVersion, range: TimeRange, deps: MaterializeDeps, options: MaterializeOptions): Promise<ViewMaterializeResult> {
  const id = `${view.name}@${view.version}`;
  const t0 = performance.now();
  const chunkRows = options.writeChunkRows ?? 2048;
  const maxInFlight = options.maxInFlight ?? 4;
  const estimator = deps.offline as Partial<RowEstimator>;
  let estimate: number | undefined;
  let started = false;
  let finished = false;
  if (deps.progress && typeof estimator.estimateRows === 'function') {
    const pending = estimator.estimateRows(view, range).then(
      (n) => {
        if (!Number.isFinite(n) || n < 0) return;
        if (started) {
          if (!finished) deps.progress?.rowsEstimated?.(id, n);
        } else estimate = n;
      },
      () => {},
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pending, new Promise<void>((r) => (timer = setTimeout(r, options.estimateWaitMs ?? 200)))]);
    clearTimeout(timer);
  }
  started = true;
  // Rows stored before the store tracked expiry get one now (once per view version; embedded).
  await (deps.online as Partial<ExpiryBackfill>).backfillExpiry?.(id, view.ttlMs);
  deps.progress?.viewStarted(id, range, estimate);
  const converter = new ArrowRowConverter(view);
  const expireAt = expireAtMs(view.ttlMs, (deps.now ?? Date.now)());
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let rows = 0;
  let written = 0;
  let stale = 0;
  const launch = (chunk: OnlineWrite[]) => {
    const p: Promise<void> = deps.online.writeRows(chunk).then(
      (r) => {
        written += r.written;
        stale += r.stale;
        deps.progress?.rowsWritten(id, chunk.length);
      },
      (e) => {
        failure ??= e;
      },
    ).finally(() => inflight.delete(p));
    inflight.add(p);
  };
  try {
    for await (const batch of deps.offline.readLatest(view, range, { batchRows: options.batchRows ?? 16_384 })) {
      if (failure || options.signal?.aborted) break;
      const writes = converter.convert(batch, expireAt);
      rows += writes.length;
      for (let s = 0; s < writes.length && !failure; s += chunkRows) {
        while (inflight.size >= maxInFlight) await Promise.race(inflight);
        if (failure) break;
        launch(writes.slice(s, s + chunkRows));
      }
    }
  } catch (e) {
    failure ??= e;
  }
  await Promise.all(inflight);
  finished = true;
  if (!failure && options.signal?.aborted) failure = new PitstopError('MATERIALIZE_FAILED', 'cancelled');
  if (failure) {
    const cause = failure as Error;
    const reason = isPitstopError(cause) ? cause.reason : 'MATERIALIZE_FAILED';
    throw new PitstopError(reason, `materialize ${id} stopped after ${written + stale} of ${rows} rows read: ${cause?.message ?? String(cause)}; run it again to complete (writes are idempotent)`, { cause });
  }
  return { view: id, range, rows, written, stale, elapsedMs: performance.now() - t0 };
}
