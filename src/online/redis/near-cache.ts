/**
 * The near cache's table: rows (or their absence) by view and entity key, held in the serving
 * process, bounded in bytes. It knows nothing of Redis; `tracked-reads.ts` decides when an entry
 * may be used and feeds it invalidations. See docs/online.md ("Near cache").
 *
 * One Map per view (by its row key head, `<prefix>:<project>:<view>@<version>:{`), keyed by the
 * entity key as a latin1 string (one char per byte): a lookup hashes the few bytes of the entity
 * key, not a whole row key. A first version keyed one Map by whole row keys built per lookup
 * (head + entity + `}`), and that lookup cost 113 ns per row (profile of
 * bench/serving/near-cache-micro.ts), as much as the MGET it saved.
 *
 * An entry is either filled (a row, or null for "no row stored") or pending: a read of its key is
 * in flight and will fill it when it answers, unless an invalidation (or a newer read of the same
 * key, or a clear) came in between, which replaces the pending token. A read whose token no longer
 * matches fills nothing, so a value read before a write is never stored after that write's
 * invalidation.
 *
 * Eviction: when over budget, the oldest entries (a Map's insertion order) of the view holding
 * the most entries go first. Cheap, no per-hit bookkeeping; a key evicted while hot comes back on
 * its next miss.
 */
import type { ReadCacheStats } from '../ports.ts';

export type NearCacheStats = ReadCacheStats;

/** Estimated bytes per entry besides the row and entity key: the Map slot, the entry object, the Buffer, the key string's header. */
export const ENTRY_OVERHEAD_BYTES = 160;

const PENDING = 0;
const FILLED = 1;

class Entry {
  constructor(
    public state: number,
    public token: number,
    public row: Buffer | null,
    public bytes: number,
  ) {}
}

/** One view's entries by entity key (latin1). */
export type ViewTable = Map<string, Entry>;

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
    if (t === undefined) this.tables.set(head, (t = new Map()));
    return t;
  }

  /**
   * The row of `entity` in `table` when the entry is filled: a Buffer, or null for a key known to
   * hold no row. undefined when there is no filled entry (a miss: read it, after `pending`).
   */
  get(table: ViewTable, entity: string): Buffer | null | undefined {
    const e = table.get(entity);
    if (e === undefined || e.state !== FILLED) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return e.row;
  }

  /** Marks `entity` of `table` as being read now; returns the token its `fill` must bring back. */
  pending(table: ViewTable, entity: string): number {
    const token = this.nextToken++;
    const e = table.get(entity);
    if (e === undefined) {
      const bytes = ENTRY_OVERHEAD_BYTES + entity.length;
      table.set(entity, new Entry(PENDING, token, null, bytes));
      this.entries++;
      this.bytes += bytes;
      this.evict();
    } else {
      const rowBytes = e.row?.length ?? 0;
      this.bytes -= rowBytes;
      e.bytes -= rowBytes;
      e.state = PENDING;
      e.token = token;
      e.row = null;
    }
    return token;
  }

  /**
   * Stores the answer of the read that `pending` returned `token` for: `row` is copied (a reply
   * buffer is shared and large), null stores "no row". Does nothing when the entry was
   * invalidated, cleared, evicted or taken by a newer read since. Returns whether it stored.
   */
  fill(table: ViewTable, entity: string, token: number, row: Uint8Array | null): boolean {
    const e = table.get(entity);
    if (e === undefined || e.state !== PENDING || e.token !== token) return false;
    e.state = FILLED;
    if (row !== null) {
      // From Node's shared 8 KB pool (rows under 4 KB): a few thousand ArrayBuffers for a
      // large cache instead of one per row, which measured shorter GC pauses (250k rows of 100
      // bytes, garbage made around them: longest pause besides a forced full GC 3.7 ms against
      // 7.2 ms with an ArrayBuffer per row). A pool slab lives while any row in it is cached, so
      // `bytes` is an estimate.
      const copy = Buffer.allocUnsafe(row.length);
      copy.set(row);
      e.row = copy;
      e.bytes += copy.length;
      this.bytes += copy.length;
      this.evict();
    }
    return true;
  }

  /** Forgets `entity` of the view with row key head `head` (this process wrote it). */
  invalidate(head: string, entity: string): void {
    const table = this.tables.get(head);
    if (table !== undefined) this.drop(table, entity, true);
  }

  /**
   * Forgets the row whose whole Redis key is `key` (latin1; an invalidation message: written,
   * deleted, expired or evicted in Redis). Keys that are no row keys are ignored.
   */
  invalidateKey(key: string): void {
    const open = key.indexOf('{');
    if (open < 0 || key.charCodeAt(key.length - 1) !== 0x7d) return;
    const table = this.tables.get(key.slice(0, open + 1));
    if (table !== undefined) this.drop(table, key.slice(open + 1, key.length - 1), true);
  }

  /** Forgets everything, pending reads included (their fills will find no entry). */
  clear(): void {
    if (this.entries > 0) this.clears++;
    // Emptied, not dropped: a read in flight holds its view's table and must find no entry there.
    for (const t of this.tables.values()) t.clear();
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
    };
  }

  private drop(table: ViewTable, entity: string, invalidation: boolean): void {
    const e = table.get(entity);
    if (e === undefined) return;
    table.delete(entity);
    this.entries--;
    this.bytes -= e.bytes;
    if (invalidation) this.invalidations++;
    else this.evictions++;
  }

  /** Drops the oldest entries of the largest view table until the cache fits its budget. */
  private evict(): void {
    while (this.bytes > this.maxBytes && this.entries > 0) {
      let largest: ViewTable | undefined;
      for (const t of this.tables.values()) if (largest === undefined || t.size > largest.size) largest = t;
      let n = 0;
      for (const entity of largest!.keys()) {
        this.drop(largest!, entity, false);
        // Re-pick the largest table now and then, not after every entry.
        if (this.bytes <= this.maxBytes || ++n === 64) break;
      }
    }
  }
}
