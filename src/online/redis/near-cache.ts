/**
 * The near cache's table: rows (or their absence) by view and entity key, held in the serving
 * process outside the JS heap, bounded in bytes. It knows nothing of Redis; `tracked-reads.ts`
 * decides when it may be used and feeds it invalidations. See docs/online.md ("Near cache").
 *
 * Why outside the heap. The first version kept each row as a latin1 string in a Map per view
 * (one object per row, cheap to look up). But a cache is all survivors: every row it stores
 * lives on, and V8's young-generation collector copies each surviving object (twice, before it
 * is promoted). While the cache fills (or churns), scavenges copied megabytes of rows: 8-24 ms
 * pauses in the bench's near-cache server against 0.3-0.6 ms in the same server without it
 * (`--trace-gc`, 2026-12-06), which is where that server's p99 went. Here the rows, their keys
 * and the index are typed arrays: the collector never looks inside them, and a lookup or a
 * fill allocates nothing on the heap.
 *
 * Layout:
 * - Entries are appended to a ring of segments (off-heap buffers, allocated as first needed):
 *   a 24-byte header (size, hash, view table, state, key length, row length), the entity key,
 *   the row. Eviction is first in, first out, a segment at a time: when the ring comes round to
 *   a segment, its entries leave the index and the segment is written over. No bookkeeping per
 *   hit.
 * - One index per view table (a request touches only its own views' indexes, which stay small
 *   enough to sit in the CPU caches: with one index for all 25 bench views, a cached 500 x 1
 *   read took 95-125 µs of client CPU, with one per view 54-65 µs; near-cache-micro.ts, a
 *   noisy VM), open addressing with linear probing over one Uint32Array, two words a slot (one
 *   cache line for both): the entry's address (in 8-byte units, so 32 GB of ring fit a uint32)
 *   and its hash, compared before the key bytes. Removal leaves a tombstone; an index is
 *   rebuilt when tombstones and entries fill half of it.
 * - The hash is FNV-1a over the entity key's bytes, the view's table number mixed in, then an
 *   avalanche; the key part is computed once for views that share entity keys, and no string
 *   is made per row.
 *
 * Reads in flight: a miss takes a ticket, the epoch of its key's bucket (65,536 buckets by
 * hash), and its answer is stored only if the epoch is unchanged. Every invalidation of a key
 * bumps its bucket's epoch (whether the key is cached or not) and a clear bumps them all, so a
 * value read before a write is never stored after that write's invalidation. Another key of the
 * same bucket being invalidated meanwhile only costs a skipped fill.
 *
 * An address is valid until the next fill (which may write over its segment): copy a row out
 * before anything else can run.
 */
import { copyViaViews } from '../../core/copy-bytes.ts';
import type { ReadCacheStats } from '../ports.ts';
import { rowEventMsAt } from '../row-codec.ts';

export type NearCacheStats = ReadCacheStats;

/** Bytes of an entry besides its entity key and row (the header; entries are 8-byte aligned). */
export const ENTRY_OVERHEAD_BYTES = 24;

/** Largest and smallest segment: 1/8 of the budget, within these, a power of two. */
const MAX_SEGMENT_BYTES = 16 << 20;
const MIN_SEGMENT_BYTES = 1 << 10;
/** The most a cache may hold: addresses are uint32 counts of 8-byte units. */
export const MAX_NEAR_CACHE_BYTES = 2 ** 32 * 8 - 2 * MAX_SEGMENT_BYTES;

const EMPTY = 0xffffffff;
const TOMBSTONE = 0xfffffffe;
const EPOCH_BITS = 16;
const EPOCH_MASK = (1 << EPOCH_BITS) - 1;

/** Entry states (header word 2, bits 16-17). */
const DEAD = 0;
const ROW = 1;
const ABSENT = 2;

/**
 * Rows shorter than this are copied by a byte loop. Longer ones are stored by `set` (a native
 * memcpy; `fill` has the row as a view already) and copied out through DataViews
 * (`copyViaViews`: no view object per row). Against `set(subarray())`, `near-cache-micro.ts`
 * 100 × 50 79-80 → 71-72 µs per read, 500 × 10 73-74 → 64 µs (2026-12-06).
 */
const LOOP_COPY_BYTES = 32;

export class NearCache {
  /** Bytes per segment, and log2 of its 8-byte units. */
  private readonly segmentBytes: number;
  private readonly unitShift: number;
  private readonly segments: (Uint8Array | undefined)[];
  /** The same segments as DataViews: `copyRow` copies four bytes a step through them. */
  private readonly views: (DataView | undefined)[];
  /** The buffer `copyRow` last copied into, and a DataView of it (one per read, not one per row). */
  private outBytes: Uint8Array | undefined;
  private outView: DataView | undefined;
  private readonly words: (Uint32Array | undefined)[];
  /** Bytes written into each segment (its entries lie in [0, used)). */
  private readonly used: Int32Array;
  /** The segment entries are appended to. */
  private head = 0;

  /** One index per view table (a request touches only its views' indexes: fewer cache misses). */
  private readonly indexes: TableIndex[] = [];

  private readonly epochs = new Uint32Array(1 << EPOCH_BITS);
  private readonly tables = new Map<string, number>();

  private entries = 0;
  private bytes = 0;
  /** What `lookupMany`'s second pass read, kept so that no compiler drops its loads. */
  private touched = 0;
  /** Keys being read to be stored (reads in flight); kept by the caller through `reading`. */
  pending = 0;
  hits = 0;
  misses = 0;
  invalidations = 0;
  evictions = 0;
  clears = 0;

  constructor(readonly maxBytes: number) {
    if (!(maxBytes >= MIN_SEGMENT_BYTES && maxBytes <= MAX_NEAR_CACHE_BYTES)) {
      throw new RangeError(`near cache: maxBytes must be from ${MIN_SEGMENT_BYTES} to ${MAX_NEAR_CACHE_BYTES}, got ${maxBytes}`);
    }
    let seg = MIN_SEGMENT_BYTES;
    while (seg * 2 <= Math.min(MAX_SEGMENT_BYTES, maxBytes / 8)) seg *= 2;
    this.segmentBytes = seg;
    this.unitShift = Math.log2(seg) - 3;
    const count = Math.max(1, Math.floor(maxBytes / seg));
    this.segments = new Array(count);
    this.views = new Array(count);
    this.words = new Array(count);
    this.used = new Int32Array(count);
  }

  /** The table number of the view whose row keys start with `head` (`<prefix>:<project>:<view>@<version>:{`). */
  table(head: string): number {
    let t = this.tables.get(head);
    if (t === undefined) {
      if (this.tables.size >= 0xffff) throw new RangeError('near cache: more than 65,535 view versions');
      this.tables.set(head, (t = this.tables.size));
      this.indexes.push(new TableIndex(MIN_INDEX_SLOTS));
    }
    return t;
  }

  /** The hash of `key` in `table`; `lookup`, `ticket` and `fill` take it. */
  hash(table: number, key: Uint8Array): number {
    return tableHash(keyHash(key), table);
  }

  /**
   * The entry of `key` (its bytes `from .. to`) in `table` (an address for `rowLength` and `copyRow`, valid until the next
   * fill), or -1 when it is not cached (a miss: take a `ticket`, read it, `fill`). Counts the hit or miss.
   */
  lookup(table: number, key: Uint8Array, hash: number, from = 0, to = key.length): number {
    const a = this.find(table, key, hash, from, to);
    if (a < 0) this.misses++;
    else this.hits++;
    return a;
  }

  /**
   * `lookup` for `count` keys of a key list at once: key i is `bytes[offsets[i] .. offsets[i + 1])`,
   * its `keyHash` `keyHashes[i]`. Writes each key's hash in `table` to `hashes[at + i]` and its
   * entry (or -1) to `out[at + i]`; counts the hits and misses.
   *
   * In three passes, for the memory rather than the instructions. Between two requests of a
   * serving process the other processes on the box (Redis, the clients) push the index and the
   * entries out of the CPU caches, so each lookup meets two cache misses (its index slot, then
   * its entry's header), and one key at a time they come one after another. Here the first pass
   * reads every key's first index slot and the second every candidate entry's hash word; no load
   * waits on another, so the CPU has many misses in flight at once, and the third pass (the real
   * lookup) finds the lines in cache. A whole cached read (`near-cache-micro.ts --cold`, the CPU
   * caches flushed before each read; AMD EPYC VM, 2026-12-07, three alternating runs each): 100 x 50
   * 356-418 µs one key at a time, 242-258 µs in passes; 500 x 10 239-344 against 202-260 µs.
   * Warm (no flush) the two are alike within the noise (56-98 µs).
   */
  lookupMany(table: number, bytes: Uint8Array, offsets: Int32Array, keyHashes: Int32Array, count: number, hashes: Uint32Array, out: Float64Array, at: number): void {
    const { slots, mask } = this.indexes[table];
    for (let i = 0; i < count; i++) {
      const h = tableHash(keyHashes[i], table);
      hashes[at + i] = h;
      out[at + i] = slots[2 * (h & mask)];
    }
    const shift = this.unitShift;
    const low = (1 << shift) - 1;
    let touched = 0;
    for (let i = 0; i < count; i++) {
      const a = out[at + i];
      if (a < TOMBSTONE) touched ^= this.words[a >>> shift]![((a & low) << 1) + 1];
    }
    this.touched = touched;
    let hits = 0;
    for (let i = 0; i < count; i++) {
      const a = this.find(table, bytes, hashes[at + i], offsets[i], offsets[i + 1]);
      out[at + i] = a;
      if (a >= 0) hits++;
    }
    this.hits += hits;
    this.misses += count - hits;
  }

  /** The row's length in bytes, or -1 for a key known to hold no row. */
  rowLength(a: number): number {
    const w = this.words[a >>> this.unitShift]!;
    const at = (a & ((1 << this.unitShift) - 1)) << 1;
    return (w[at + 2] >>> 16) === ABSENT ? -1 : w[at + 4];
  }

  /** The event time (epoch ms) of the row of entry `a` (one with a row: `rowLength(a) >= 0`). */
  rowEventMs(a: number): number {
    const seg = a >>> this.unitShift;
    const off = (a & ((1 << this.unitShift) - 1)) << 3;
    const w = this.words[seg]!;
    const s = off + ENTRY_OVERHEAD_BYTES + w[(off >>> 2) + 3];
    return rowEventMsAt(this.segments[seg]!, s, s + w[(off >>> 2) + 4]);
  }

  /** A `lookup` that found an entry the caller will not use (it reads the key again): a miss after all. */
  notUsed(): void {
    this.hits--;
    this.misses++;
  }

  /** Copies the row of entry `a` into `out` at `at`; returns its length. */
  copyRow(a: number, out: Uint8Array, at: number): number {
    const seg = a >>> this.unitShift;
    const off = (a & ((1 << this.unitShift) - 1)) << 3;
    const w = this.words[seg]!;
    const len = w[(off >>> 2) + 4];
    const s = off + ENTRY_OVERHEAD_BYTES + w[(off >>> 2) + 3];
    const bytes = this.segments[seg]!;
    if (len < LOOP_COPY_BYTES) {
      for (let i = 0; i < len; i++) out[at + i] = bytes[s + i];
      return len;
    }
    if (out !== this.outBytes) {
      this.outBytes = out;
      this.outView = new DataView(out.buffer, out.byteOffset, out.byteLength);
    }
    copyViaViews(this.views[seg]!, bytes, s, this.outView!, out, at, len);
    return len;
  }

  /** What a read of the key with `hash` must bring back to `fill`: its bucket's epoch now. */
  ticket(hash: number): number {
    return this.epochs[hash & EPOCH_MASK];
  }

  /**
   * Stores the answer of a read that took `ticket` before it was sent: `row` is copied, null
   * stores "no row"; the key is `key[from .. to)`. Does nothing when the key's bucket was invalidated (or the cache cleared)
   * since, or the entry would not fit a segment. Returns whether it stored.
   */
  fill(table: number, key: Uint8Array, hash: number, ticket: number, row: Uint8Array | null, from = 0, to = key.length): boolean {
    if (this.epochs[hash & EPOCH_MASK] !== ticket) return false;
    const rowLen = row === null ? 0 : row.length;
    const keyLen = to - from;
    const size = (ENTRY_OVERHEAD_BYTES + keyLen + rowLen + 7) & ~7;
    if (size > this.segmentBytes || keyLen > 0xffff) return false;
    const old = this.find(table, key, hash, from, to);
    if (old >= 0) this.remove(table, old, hash);
    if (this.segments[this.head] === undefined) this.allocate(this.head);
    else if (this.used[this.head] + size > this.segmentBytes) this.advance();
    const seg = this.head;
    const off = this.used[seg];
    this.used[seg] = off + size;
    const bytes = this.segments[seg]!;
    const w = this.words[seg]!;
    const wi = off >>> 2;
    w[wi] = size;
    w[wi + 1] = hash;
    w[wi + 2] = table | ((row === null ? ABSENT : ROW) << 16);
    w[wi + 3] = keyLen;
    w[wi + 4] = rowLen;
    w[wi + 5] = 0;
    for (let i = 0, k = off + ENTRY_OVERHEAD_BYTES; i < keyLen; i++) bytes[k + i] = key[from + i];
    if (row !== null) {
      const s = off + ENTRY_OVERHEAD_BYTES + keyLen;
      if (rowLen < LOOP_COPY_BYTES) for (let i = 0; i < rowLen; i++) bytes[s + i] = row[i];
      else bytes.set(row, s);
    }
    this.insert(table, seg * 2 ** this.unitShift + (off >>> 3), hash);
    this.entries++;
    this.bytes += size;
    return true;
  }

  /** Forgets `entity` of the view with row key head `head` (this process wrote it). */
  invalidate(head: string, entity: Uint8Array): void {
    const table = this.tables.get(head);
    // No table: nothing of the view was ever read, so nothing is cached or in flight.
    if (table === undefined) return;
    const hash = this.hash(table, entity);
    this.epochs[hash & EPOCH_MASK]++;
    const a = this.find(table, entity, hash);
    if (a >= 0) {
      this.remove(table, a, hash);
      this.invalidations++;
    }
  }

  /**
   * Forgets the row whose whole Redis key is `key` (latin1; an invalidation message: written,
   * deleted, expired or evicted in Redis). Keys that are no row keys are ignored.
   */
  invalidateKey(key: string): void {
    const open = key.indexOf('{');
    if (open < 0 || key.charCodeAt(key.length - 1) !== 0x7d) return;
    if (!this.tables.has(key.slice(0, open + 1))) return;
    this.invalidate(key.slice(0, open + 1), Buffer.from(key.slice(open + 1, key.length - 1), 'latin1'));
  }

  /** Forgets everything, reads in flight included (their fills will store nothing). */
  clear(): void {
    if (this.entries > 0) this.clears++;
    for (let i = 0; i < this.epochs.length; i++) this.epochs[i]++;
    this.used.fill(0);
    this.head = 0;
    for (const ix of this.indexes) ix.clear();
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
      pending: this.pending,
    };
  }

  /**
   * For tests: checks that the index holds exactly the live entries, each under its hash, and
   * that the counters add up; throws naming the first inconsistency.
   */
  verify(): void {
    let live = 0;
    let size = 0;
    for (let t = 0; t < this.indexes.length; t++) {
      const ix = this.indexes[t];
      let taken = 0;
      let tableLive = 0;
      for (let i = 0; i <= ix.mask; i++) {
        const a = ix.slots[2 * i];
        if (a === EMPTY) continue;
        taken++;
        if (a === TOMBSTONE) continue;
        const w = this.words[a >>> this.unitShift]!;
        const wi = ((a & ((1 << this.unitShift) - 1)) << 3) >>> 2;
        if (w[wi + 2] >>> 16 === DEAD) throw new Error(`near cache: table ${t} slot ${i} points at a dead entry`);
        if ((w[wi + 2] & 0xffff) !== t) throw new Error(`near cache: table ${t} slot ${i} points at an entry of table ${w[wi + 2] & 0xffff}`);
        if (w[wi + 1] !== ix.slots[2 * i + 1]) throw new Error(`near cache: table ${t} slot ${i} has hash ${ix.slots[2 * i + 1]}, its entry ${w[wi + 1]}`);
        tableLive++;
        size += w[wi];
      }
      if (taken !== ix.taken || tableLive !== ix.live) throw new Error(`near cache: table ${t} has ${taken} slots taken and ${tableLive} live; its counters say ${ix.taken} and ${ix.live}`);
      live += tableLive;
    }
    let stored = 0;
    for (let seg = 0; seg < this.segments.length; seg++) {
      const w = this.words[seg];
      if (!w) continue;
      for (let off = 0; off < this.used[seg]; off += w[off >>> 2]) if (w[(off >>> 2) + 2] >>> 16 !== DEAD) stored++;
    }
    if (live !== this.entries || stored !== this.entries || size !== this.bytes) {
      throw new Error(`near cache: ${live} indexed and ${stored} stored live entries of ${size} bytes; counters say ${this.entries}, ${this.bytes}`);
    }
  }

  /** The live entry of `key` in `table`, or -1. */
  /** The entry of the key `key[from .. to)` in `table`, or -1. */
  private find(table: number, key: Uint8Array, hash: number, from = 0, to = key.length): number {
    const { slots, mask } = this.indexes[table];
    const n = to - from;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const a = slots[2 * i];
      if (a === EMPTY) return -1;
      if (a === TOMBSTONE || slots[2 * i + 1] !== hash) continue;
      const seg = a >>> this.unitShift;
      const off = (a & ((1 << this.unitShift) - 1)) << 3;
      const w = this.words[seg]!;
      const wi = off >>> 2;
      if ((w[wi + 2] & 0xffff) !== table || w[wi + 3] !== n) continue;
      const bytes = this.segments[seg]!;
      const k = off + ENTRY_OVERHEAD_BYTES;
      let same = true;
      for (let j = 0; j < n; j++) {
        if (bytes[k + j] !== key[from + j]) {
          same = false;
          break;
        }
      }
      if (same) return a;
    }
  }

  private insert(table: number, a: number, hash: number): void {
    let ix = this.indexes[table];
    if ((ix.taken + 1) * 4 > (ix.mask + 1) * 3) ix = this.indexes[table] = ix.rebuilt();
    const { slots, mask } = ix;
    let i = hash & mask;
    while (slots[2 * i] !== EMPTY && slots[2 * i] !== TOMBSTONE) i = (i + 1) & mask;
    if (slots[2 * i] === EMPTY) ix.taken++;
    slots[2 * i] = a;
    slots[2 * i + 1] = hash;
    ix.live++;
  }

  /** Takes entry `a` (with `hash`) out of its table's index and marks it dead. */
  private remove(table: number, a: number, hash: number): void {
    const ix = this.indexes[table];
    ix.live--;
    const { slots, mask } = ix;
    let i = hash & mask;
    while (slots[2 * i] !== a) {
      if (slots[2 * i] === EMPTY) throw new Error(`near cache: entry ${a} is not in its index`);
      i = (i + 1) & mask;
    }
    slots[2 * i] = TOMBSTONE;
    const seg = a >>> this.unitShift;
    const wi = ((a & ((1 << this.unitShift) - 1)) << 3) >>> 2;
    const w = this.words[seg]!;
    w[wi + 2] &= 0xffff; // state DEAD
    this.entries--;
    this.bytes -= w[wi];
  }

  /** Moves appends to the next segment of the ring, evicting what it holds. */
  private advance(): void {
    const next = (this.head + 1) % this.segments.length;
    if (this.segments[next] === undefined) this.allocate(next);
    else {
      const w = this.words[next]!;
      const end = this.used[next];
      for (let off = 0; off < end; ) {
        const wi = off >>> 2;
        if (w[wi + 2] >>> 16 !== DEAD) {
          this.remove(w[wi + 2] & 0xffff, next * 2 ** this.unitShift + (off >>> 3), w[wi + 1]);
          this.evictions++;
        }
        off += w[wi];
      }
    }
    this.used[next] = 0;
    this.head = next;
  }

  private allocate(seg: number): void {
    const buf = new ArrayBuffer(this.segmentBytes);
    this.segments[seg] = new Uint8Array(buf);
    this.views[seg] = new DataView(buf);
    this.words[seg] = new Uint32Array(buf);
    this.used[seg] = 0;
  }

}

const MIN_INDEX_SLOTS = 64;

/**
 * One view table's index: open addressing, linear probing, two words a slot (the entry's address
 * or EMPTY / TOMBSTONE, and its hash). Rebuilt when entries and tombstones take half of it.
 */
class TableIndex {
  readonly slots: Uint32Array;
  readonly mask: number;
  /** Slots holding an entry or a tombstone. */
  taken = 0;
  /** Slots holding an entry. */
  live = 0;

  constructor(capacity: number) {
    this.slots = new Uint32Array(2 * capacity).fill(EMPTY);
    this.mask = capacity - 1;
  }

  clear(): void {
    this.slots.fill(EMPTY);
    this.taken = 0;
    this.live = 0;
  }

  /** A new index of the live entries: larger when they fill a quarter of this one, else rid of tombstones. */
  rebuilt(): TableIndex {
    let capacity = MIN_INDEX_SLOTS;
    while (capacity < this.live * 2) capacity *= 2;
    const next = new TableIndex(capacity);
    const { slots } = next;
    for (let i = 0; i <= this.mask; i++) {
      const a = this.slots[2 * i];
      if (a === EMPTY || a === TOMBSTONE) continue;
      const hash = this.slots[2 * i + 1];
      let j = hash & next.mask;
      while (slots[2 * j] !== EMPTY) j = (j + 1) & next.mask;
      slots[2 * j] = a;
      slots[2 * j + 1] = hash;
      next.taken++;
      next.live++;
    }
    return next;
  }
}

/** FNV-1a over the key's bytes, `key[from .. to)` (the part of the hash that is the same in every table). */
export function keyHash(key: Uint8Array, from = 0, to = key.length): number {
  let h = 0x811c9dc5 | 0;
  for (let i = from; i < to; i++) h = Math.imul(h ^ key[i], 0x01000193);
  return h;
}

/** The hash of a key in `table`, from its `keyHash`: the table mixed in, then an avalanche (murmur3's finalizer). */
export function tableHash(keyHash: number, table: number): number {
  let h = keyHash ^ Math.imul(table + 1, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
