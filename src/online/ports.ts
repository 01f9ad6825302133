/**
 * Online store ports: bytes in, bytes out. Rows are encoded by `row-codec.ts` and entity keys
 * by `entity-key.ts`; adapters (embedded, Redis) never interpret feature values, only the row
 * header's timestamps (to let the newer event time win).
 *
 * Serving depends on OnlineReader alone; materialization and push on OnlineWriter.
 */
import type { EntityKeyList } from './entity-key.ts';

/** One read: several view versions for several entity rows, answered in one round trip per store node. */
export interface OnlineReadBatch {
  /** Storage ids of the view versions to read, `view@version` (see `viewStorageId`). */
  readonly views: readonly string[];
  /**
   * `entityKeys[j]` holds the encoded entity keys of view j's entity rows, packed
   * (`entityKeys[j].key(i)` is entity row i's). Views with the same join keys may share one
   * list (the same reference), which lets an adapter read all of them from one record per entity.
   */
  readonly entityKeys: readonly EntityKeyList[];
  /**
   * Per view, its ttl in ms (0: none). A reader that serves rows from a cache uses it to read
   * again a cached row whose record may have expired in the store by now (its event time +
   * ttl + grace has passed: `expiry.ts`), so such a row reads as the store has it, not as cached.
   */
  readonly ttlMs?: readonly number[];
}

export interface ReadOptions {
  /** Give up (rejecting with DEADLINE_EXCEEDED) when this signal aborts. */
  signal?: AbortSignal;
}

export interface OnlineReader {
  /**
   * Encoded rows: `result[j][i]` for view j and entity row i, null where no row is stored.
   * Rejects with a PitstopError ONLINE_STORE_UNAVAILABLE when the store fails.
   */
  readRows(batch: OnlineReadBatch, options?: ReadOptions): Promise<(Buffer | null)[][]>;
  /**
   * The same read answered as spans of one buffer, with no object per row (serving's hot path).
   * Rows are numbered views first, then entity rows: the row of view j and entity row i is
   * number `r = entityKeys[0].length + … + entityKeys[j-1].length + i` (`j * n + i` when every
   * view has n entity rows); `spans[2r]` and `spans[2r + 1]` receive where it starts and ends
   * in the resolved buffer, both -1 where no row is stored. `spans` must hold 2 × (all rows).
   */
  readSpans(batch: OnlineReadBatch, spans: Int32Array, options?: ReadOptions): Promise<Buffer>;
  /** Resolves once the store answers a ping. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OnlineWrite {
  /** Storage id of the view version, `view@version`. */
  view: string;
  /** Encoded entity key. */
  entity: Buffer;
  /** Encoded row (its header holds the event and created timestamps that decide who wins). */
  row: Buffer;
  /** Absolute expiry in epoch ms for the entity's record, or undefined for none. */
  expireAtMs?: number;
}

export interface WriteResult {
  /** Rows that replaced an older row or filled an empty slot. */
  written: number;
  /** Rows dropped because the stored row was newer (or equally new). */
  stale: number;
}

export interface WriteOptions {
  /**
   * Apply the whole call all-or-nothing: other readers see all rows or none, and a failure
   * (e.g. the store going away mid-call) leaves none written. Default false: atomic per row
   * only, a rejected call may have applied a prefix. Embedded store: every call is atomic
   * anyway. Redis standalone: the rows go in one script call, which blocks other clients while
   * it runs (a few µs per row), so keep atomic batches to thousands of rows, not millions.
   * Redis Cluster: atomic per hash slot only (a script's keys must share a slot); rows of
   * different entities usually live in different slots.
   */
  atomic?: boolean;
}

export interface OnlineWriter {
  /**
   * Write rows so that, per (view, entity), the row with the newer event timestamp wins, ties
   * broken by the newer created timestamp; atomic per row inside the store, so replays never
   * roll a value back and concurrent writers converge. Duplicates of one (view, entity) in a
   * call are fine: the newest wins whatever the order. Without `options.atomic` a rejected call
   * may have applied a prefix; rerunning it is safe (writes are idempotent).
   */
  writeRows(rows: readonly OnlineWrite[], options?: WriteOptions): Promise<WriteResult>;
  close(): Promise<void>;
}

/**
 * Optional capability of an online writer (an optional port method): give rows that were
 * stored without expiry metadata an expiry, once per view version. Materialization and push
 * call it before writing a view version when the writer has it; the embedded store does (rows
 * written before it tracked expiry); Redis does not need it (expiry lives on the record).
 */
export interface ExpiryBackfill {
  /**
   * Rows of `view` (`view@version`) with no expiry recorded get `event time + ttl + grace`
   * (ttlMs 0: nothing to do, they never expire). Done once per view version per store; later
   * calls return 0 at once. Resolves with the number of rows given an expiry.
   */
  backfillExpiry(view: string, ttlMs: number): Promise<number>;
}

/** Counters of a cache an online reader keeps in front of its store (the Redis near cache). */
export interface ReadCacheStats {
  hits: number;
  misses: number;
  invalidations: number;
  evictions: number;
  clears: number;
  entries: number;
  bytes: number;
  maxBytes: number;
  /** Reads in flight that will store their answer (keys being fetched). */
  pending: number;
}

/**
 * Optional capability of an online reader (an optional port method): its cache's counters,
 * undefined when it has none configured. Serving exports them as metrics.
 */
export interface ReadCacheStatsSource {
  nearCacheStats(): ReadCacheStats | undefined;
}

/**
 * `readSpans` for an adapter that has rows as separate buffers: copies them into one buffer
 * (one allocation, one copy per row) and fills `spans` as the port describes.
 */
export function packRows(rows: readonly (readonly (Buffer | null)[])[], spans: Int32Array): Buffer {
  let total = 0;
  for (const view of rows) for (const row of view) if (row) total += row.length;
  const data = Buffer.allocUnsafe(total);
  let at = 0;
  let r = 0;
  for (const view of rows) {
    for (const row of view) {
      if (row) {
        spans[2 * r] = at;
        at += row.copy(data, at);
        spans[2 * r + 1] = at;
      } else {
        spans[2 * r] = -1;
        spans[2 * r + 1] = -1;
      }
      r++;
    }
  }
  return data;
}

/** The storage id of a view version. */
export function viewStorageId(view: string, version: number): string {
  return `${view}@${version}`;
}
