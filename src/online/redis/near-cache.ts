/**
 * The near cache's table: rows (or their absence) by view and entity key, held in the serving
 * process, bounded in bytes. It knows nothing of Redis; `tracked-reads.ts` decides when an entry
 * may be used and feeds it invalidations. See docs/online.md ("Near cache").
 *
 * Layout, chosen by measurement (bench/serving/near-cache-micro.ts, and a profile of the bench's
 * near-cache server, where lookups of random entities over full tables are memory-bound):
 * - One table per view (by its row key head, `<prefix>:<project>:<view>@<version>:{`), keyed by
 *   the entity key as a latin1 string (one char per byte): a lookup hashes the few bytes of the
 *   entity key. A first version keyed one Map by whole row keys built per lookup (head + entity
 *   + `}`): 113 ns per lookup even with the rows hot in CPU caches.
 * - Rows are kept as latin1 strings, the Map's values themselves (null: no row stored): one
 *   object per row, holding its bytes, copied out with one `Buffer#write`. With an entry object
 *   holding a Buffer (three objects per row, the bytes behind a pointer) a 100-byte row cost
 *   ~580 ns to look up and copy out at random over 250k rows, against ~160 ns this way; strings
 *   are also cheap for the GC (no pointers inside, no ArrayBuffer each).
 *
 * Reads in flight are tracked apart (`pending`: entity → token). A read stores its answer only
 * if its token is still there: an invalidation (or a newer read of the same key, or a clear)
 * removes or replaces it, so a value read before a write is never stored after that write's
 * invalidation.
 *
 * Eviction: when over budget, the oldest entries (a Map's insertion order) of the view holding
 * the most go first. Cheap, no per-hit bookkeeping; a key evicted while hot comes back on its
 * next miss.
 */
import type { ReadCacheStats } from '../ports.ts';

export type NearCacheStats = ReadCacheStats;

/** Estimated bytes per entry besides the row and entity key: the Map slot and two string headers. */
export const ENTRY_OVERHEAD_BYTES = 64;

/** One view's rows (latin1 strings; null: known absent) and its reads in flight, by entity key (latin1). */
export class ViewTable {
  readonly rows = new Map<string, string | null>();
  readonly pending = new Map<string, number>();
}

export class NearCache {
  private readonly tables = new Map<string, ViewTable>();
  private entries = 0;
  private bytes = 0;
  private nextToken = 1;
  hits = 0;
  misses = 0;
  invalidations = 0;
  evictions = 0;
  clears = 0;

  constructor(readonly maxBytes: number) {
    if (!(maxBytes > 0)) throw new RangeError(`near cache: maxBytes must be positive, got ${maxBytes}`);
  }

  /** The table of the view whose row keys start with `head` (`<prefix>:<project>:<view>@<version>:{`). */
  table(head: string): ViewTable {
    let t = this.tables.get(head);
    if (t === undefined) this.tables.set(head, (t = new ViewTable()));
    return t;
  }

  /**
   * The row of `entity` in `table`, as a latin1 string (copy it out with `buf.write(row, at,
   * row.length, 'latin1')`), or null for a key known to hold no row; undefined when not cached
   * (a miss: read it, after `pending`).
   */
  get(table: ViewTable, entity: string): string | null | undefined {
    const row = table.rows.get(entity);
    if (row === undefined) this.misses++;
    else this.hits++;
    return row;
  }

  /** Marks `entity` of `table` as being read now; returns the token its `fill` must bring back. */
  pending(table: ViewTable, entity: string): number {
    const token = this.nextToken++;
    table.pending.set(entity, token);
    return token;
  }

  /**
   * Stores the answer of the read that `pending` returned `token` for: `row` is copied (into a
   * string), null stores "no row". Does nothing when the key was invalidated, cleared or taken
   * by a newer read since. Returns whether it stored.
   */
  fill(table: ViewTable, entity: string, token: number, row: Buffer | null): boolean {
    if (table.pending.get(entity) !== token) return false;
    table.pending.delete(entity);
    const value = row === null ? null : row.toString('latin1');
    const old = table.rows.get(entity);
    if (old !== undefined) this.forget(old, entity);
    table.rows.set(entity, value);
    this.entries++;
    this.bytes += ENTRY_OVERHEAD_BYTES + entity.length + (value?.length ?? 0);
    this.evict();
    return true;
  }

  /** The read that `pending` returned `token` for failed: forget it (nothing else will). */
  cancel(table: ViewTable, entity: string, token: number): void {
    if (table.pending.get(entity) === token) table.pending.delete(entity);
  }

  /** Forgets `entity` of the view with row key head `head` (this process wrote it). */
  invalidate(head: string, entity: string): void {
    const table = this.tables.get(head);
    if (table !== undefined) this.drop(table, entity);
  }

  /**
   * Forgets the row whose whole Redis key is `key` (latin1; an invalidation message: written,
   * deleted, expired or evicted in Redis). Keys that are no row keys are ignored.
   */
  invalidateKey(key: string): void {
    const open = key.indexOf('{');
    if (open < 0 || key.charCodeAt(key.length - 1) !== 0x7d) return;
    const table = this.tables.get(key.slice(0, open + 1));
    if (table !== undefined) this.drop(table, key.slice(open + 1, key.length - 1));
  }

  /** Forgets everything, reads in flight included (their fills will store nothing). */
  clear(): void {
    if (this.entries > 0) this.clears++;
    // Emptied, not dropped: a read in flight holds its view's table.
    for (const t of this.tables.values()) {
      t.rows.clear();
      t.pending.clear();
    }
    this.entries = 0;
    this.bytes = 0;
  }

  get size(): number {
    return this.entries;
  }

  stats(): NearCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      invalidations: this.invalidations,
      evictions: this.evictions,
      clears: this.clears,
      entries: this.entries,
      bytes: this.bytes,
      maxBytes: this.maxBytes,
      pending: [...this.tables.values()].reduce((n, t) => n + t.pending.size, 0),
    };
  }

  /** An invalidation: the row goes, and a read in flight of it will not store what it read. */
  private drop(table: ViewTable, entity: string): void {
    table.pending.delete(entity);
    const row = table.rows.get(entity);
    if (row === undefined) return;
    table.rows.delete(entity);
    this.forget(row, entity);
    this.invalidations++;
  }

  private forget(row: string | null, entity: string): void {
    this.entries--;
    this.bytes -= ENTRY_OVERHEAD_BYTES + entity.length + (row?.length ?? 0);
  }

  /** Drops the oldest entries of the largest view table until the cache fits its budget. */
  private evict(): void {
    while (this.bytes > this.maxBytes && this.entries > 0) {
      let largest: ViewTable | undefined;
      for (const t of this.tables.values()) if (largest === undefined || t.rows.size > largest.rows.size) largest = t;
      const rows = largest!.rows;
      let n = 0;
      for (const [entity, row] of rows) {
        rows.delete(entity);
        this.forget(row, entity);
        this.evictions++;
        // Re-pick the largest table now and then, not after every entry.
        if (this.bytes <= this.maxBytes || ++n === 64) break;
      }
    }
  }
}
