/**
 * Arrow record batches (as the OfflineReader yields them) → online writes, column-major: for
 * each feature column one tight loop first adds every row's encoded size, then (after the row
 * offsets are known) a second loop writes the column's value into every row. Fixed-width
 * columns (float64, float32, int32, int64 from typed arrays) are encoded straight from the typed
 * array and validity bitmap; other types go through the checked value encoders into a per-column
 * scratch buffer that the write loop copies. All rows of a batch land in one buffer of exactly
 * the batch's size; the only per-row objects are the OnlineWrite records (with their row and
 * entity key subarrays) that the writer port takes. Bytes are identical to RowEncoder's.
 */
import type { RecordBatch, Vector } from 'apache-arrow';
import { PitstopError, isPitstopError } from '../core/errors.ts';
import { listElementType, type FeatureType } from '../core/feature-types.ts';
import type { FeatureViewVersion } from '../core/registry-model.ts';
import { CREATED_TS_MS_COLUMN, EVENT_TS_MS_COLUMN } from '../offline/ports.ts';
import { ByteWriter, varintSize } from '../online/byte-writer.ts';
import { EntityKeyEncoder } from '../online/entity-key.ts';
import type { OnlineWrite } from '../online/ports.ts';
import { NO_CREATED_TS, ROW_CREATED_TS_OFFSET, ROW_EVENT_TS_OFFSET, ROW_FORMAT_VERSION, ROW_HEADER_BYTES } from '../online/row-codec.ts';
import { valueEncoder, type ValueEncoder } from '../online/value-codec.ts';

type Accessor = (i: number) => unknown;

function column(batch: RecordBatch, name: string, view: FeatureViewVersion): Vector {
  const v = batch.getChild(name);
  if (!v) throw new PitstopError('MATERIALIZE_FAILED', `offline batch for ${view.name}@${view.version} has no column "${name}"`);
  return v;
}

function accessor(vec: Vector, type: FeatureType): Accessor {
  const elem = listElementType(type);
  if (elem) {
    // Timestamps and bools inside lists go through get() (ms numbers, booleans); others as typed arrays.
    const spread = elem === 'timestamp' || elem === 'bool';
    return (i) => {
      const v = vec.get(i) as Vector | null;
      return v === null ? null : spread ? Array.from(v as Iterable<unknown>) : v.toArray();
    };
  }
  switch (type) {
    case 'int32':
    case 'int64':
    case 'float32':
    case 'float64': {
      const a = vec.toArray() as ArrayLike<unknown>;
      return vec.nullCount === 0 ? (i) => a[i] : (i) => (vec.isValid(i) ? a[i] : null);
    }
    default:
      // timestamp (ms number), bool, string, bytes
      return (i) => vec.get(i);
  }
}

/** The validity bitmap of a single-chunk column with nulls (and its bit offset), else null. */
function bitmapOf(vec: Vector): { bits: Uint8Array; off: number } | null {
  if (vec.nullCount === 0) return null;
  const data = vec.data[0];
  if (vec.data.length !== 1 || !data.nullBitmap) return null;
  return { bits: data.nullBitmap, off: data.offset };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const F64 = new Float64Array(1);
const F64B = new Uint8Array(F64.buffer);
const F32 = new Float32Array(1);
const F32B = new Uint8Array(F32.buffer);
const TWO_32 = 4294967296;

/** Bytes of the varint of a safe integer as ByteWriter.varintNumber writes it (negatives: 10). */
function varintNumberSize(n: number): number {
  if (n < 0) return 10;
  if (n < TWO_32) return varintSize(n);
  let size = 5;
  for (let v = Math.floor(n / 34359738368); v > 0; v = Math.floor(v / 128)) size++; // 2^35
  return size;
}

/** Write the varint of a safe integer at p (as ByteWriter.varintNumber); returns the end. */
function putVarintNumber(b: Buffer, p: number, n: number): number {
  if (n >= 0 && n < TWO_32) {
    while (n > 127) {
      b[p++] = (n & 127) | 128;
      n >>>= 7;
    }
    b[p++] = n;
    return p;
  }
  const hiN = Math.floor(n / TWO_32);
  let lo = (n - hiN * TWO_32) >>> 0;
  let hi = hiN >>> 0;
  while (hi) {
    b[p++] = (lo & 127) | 128;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo > 127) {
    b[p++] = (lo & 127) | 128;
    lo >>>= 7;
  }
  b[p++] = lo;
  return p;
}

/**
 * One feature column of a batch. `size` adds each row's encoded size (varint length + Value
 * bytes) to `sizes`; `write` writes each row's bytes at `cur[i]` and advances it. `size` is where
 * a value that does not fit its type throws (with `failedRow` set).
 */
interface ColumnEncoder {
  /** Every row's size when it is the same for all rows (a fixed-width column without nulls); then `size` is not called. */
  fixed?: number;
  size(sizes: Int32Array, n: number): void;
  /** Rows [s, e): written in tiles of rows so a tile's bytes stay in cache across columns. */
  write(buf: Buffer, cur: Int32Array, s: number, e: number): void;
}

/** Per-column scratch reused across batches (generic columns encode here, then get copied). */
class Scratch {
  readonly w = new ByteWriter(1 << 16);
  ends = new Int32Array(0);
  /** int64 columns: the values as numbers (converted once, in the size pass). */
  nums = new Float64Array(0);
}

let failedRow = -1;

/** Rows written per tile (all columns of a tile before the next): ~100 KB of rows, cache-sized. */
const TILE_ROWS = 256;

function isNull(bm: { bits: Uint8Array; off: number } | null, i: number): boolean {
  if (!bm) return false;
  const j = bm.off + i;
  return ((bm.bits[j >> 3] >> (j & 7)) & 1) === 0;
}

function fixedColumn(vec: Vector, type: FeatureType, scratch: Scratch): ColumnEncoder | undefined {
  // toArray() of a string or list column would build every value: only fixed-width ones here.
  if (type !== 'float64' && type !== 'float32' && type !== 'int32' && type !== 'int64') return undefined;
  if (vec.nullCount > 0 && (vec.data.length !== 1 || !vec.data[0].nullBitmap)) return undefined;
  const a = vec.toArray() as ArrayLike<unknown>;
  const bm = bitmapOf(vec);
  // Only when the column's array type matches the feature type exactly.
  if (type === 'float64' && a instanceof Float64Array) {
    return {
      fixed: bm ? undefined : 10,
      size(sizes, n) {
        for (let i = 0; i < n; i++) sizes[i] += isNull(bm, i) ? 1 : 10;
      },
      write(b, cur, s, e) {
        for (let i = s; i < e; i++) {
          const p = cur[i];
          if (isNull(bm, i)) {
            b[p] = 0;
            cur[i] = p + 1;
            continue;
          }
          b[p] = 9;
          b[p + 1] = 0x29;
          if (LITTLE_ENDIAN) {
            F64[0] = a[i];
            b[p + 2] = F64B[0]; b[p + 3] = F64B[1]; b[p + 4] = F64B[2]; b[p + 5] = F64B[3];
            b[p + 6] = F64B[4]; b[p + 7] = F64B[5]; b[p + 8] = F64B[6]; b[p + 9] = F64B[7];
          } else b.writeDoubleLE(a[i], p + 2);
          cur[i] = p + 10;
        }
      },
    };
  }
  if (type === 'float32' && a instanceof Float32Array) {
    return {
      fixed: bm ? undefined : 6,
      size(sizes, n) {
        for (let i = 0; i < n; i++) sizes[i] += isNull(bm, i) ? 1 : 6;
      },
      write(b, cur, s, e) {
        for (let i = s; i < e; i++) {
          const p = cur[i];
          if (isNull(bm, i)) {
            b[p] = 0;
            cur[i] = p + 1;
            continue;
          }
          b[p] = 5;
          b[p + 1] = 0x35;
          if (LITTLE_ENDIAN) {
            F32[0] = a[i];
            b[p + 2] = F32B[0]; b[p + 3] = F32B[1]; b[p + 4] = F32B[2]; b[p + 5] = F32B[3];
          } else b.writeFloatLE(a[i], p + 2);
          cur[i] = p + 6;
        }
      },
    };
  }
  if ((type === 'int32' && a instanceof Int32Array) || (type === 'int64' && a instanceof BigInt64Array)) {
    const big = a instanceof BigInt64Array;
    const tag = big ? 0x20 : 0x18;
    return {
      size(sizes, n) {
        // The values as numbers, converted once (int64: NaN marks one beyond 2^53, kept as bigint).
        if (scratch.nums.length < n) scratch.nums = new Float64Array(n);
        const nums = scratch.nums;
        for (let i = 0; i < n; i++) {
          if (isNull(bm, i)) {
            sizes[i] += 1;
            continue;
          }
          let v = big ? Number((a as BigInt64Array)[i]) : (a as Int32Array)[i];
          if (!Number.isSafeInteger(v)) v = NaN;
          nums[i] = v;
          sizes[i] += 2 + (v === v ? varintNumberSize(v) : bigVarintSize((a as BigInt64Array)[i]));
        }
      },
      write(b, cur, s, e) {
        const nums = scratch.nums;
        for (let i = s; i < e; i++) {
          const p = cur[i];
          if (isNull(bm, i)) {
            b[p] = 0;
            cur[i] = p + 1;
            continue;
          }
          const v = nums[i];
          b[p + 1] = tag;
          const end = v === v ? putVarintNumber(b, p + 2, v) : putBigVarint(b, p + 2, (a as BigInt64Array)[i]);
          b[p] = end - p - 1;
          cur[i] = end;
        }
      },
    };
  }
  return undefined;
}

function bigVarintSize(v: bigint): number {
  let u = BigInt.asUintN(64, v);
  let size = 1;
  while (u > 127n) {
    u >>= 7n;
    size++;
  }
  return size;
}

function putBigVarint(b: Buffer, p: number, v: bigint): number {
  let u = BigInt.asUintN(64, v);
  while (u > 127n) {
    b[p++] = Number(u & 127n) | 128;
    u >>= 7n;
  }
  b[p++] = Number(u);
  return p;
}

/** Any type through the checked value encoder, into a scratch buffer first. */
function genericColumn(vec: Vector, type: FeatureType, enc: ValueEncoder, scratch: Scratch): ColumnEncoder {
  const get = accessor(vec, type);
  return {
    size(sizes, n) {
      const w = scratch.w;
      w.pos = 0;
      if (scratch.ends.length < n) scratch.ends = new Int32Array(n);
      const ends = scratch.ends;
      let i = 0;
      try {
        for (; i < n; i++) {
          const start = w.pos;
          const mark = w.beginLen(64);
          enc(w, get(i));
          w.endLen(mark);
          ends[i] = w.pos;
          sizes[i] += w.pos - start;
        }
      } catch (e) {
        failedRow = i;
        throw e;
      }
    },
    write(b, cur, s, e) {
      const src = scratch.w.buf;
      const ends = scratch.ends;
      let from = s === 0 ? 0 : ends[s - 1];
      for (let i = s; i < e; i++) {
        const to = ends[i];
        const p = cur[i];
        if (to - from === 1) b[p] = src[from];
        else src.copy(b, p, from, to);
        cur[i] = p + to - from;
        from = to;
      }
    },
  };
}

/** Per view version: encoders and scratch buffers reused across batches. */
export class ArrowRowConverter {
  private readonly keys: EntityKeyEncoder;
  private readonly storageId: string;
  private readonly encoders: ValueEncoder[];
  private readonly scratch: Scratch[];
  private sizes = new Int32Array(0);
  private cur = new Int32Array(0);

  constructor(private readonly view: FeatureViewVersion) {
    this.keys = new EntityKeyEncoder(view.joinKeys);
    this.storageId = `${view.name}@${view.version}`;
    this.encoders = view.features.map((f) => valueEncoder(f.type, f.name));
    this.scratch = view.features.map(() => new Scratch());
  }

  /**
   * Encode a batch. `expireAt` is the record expiry for every row (undefined = none). Throws
   * MATERIALIZE_FAILED naming the view, batch row and column when a value does not fit its type
   * (columns are checked in view order, so with several bad values the first bad column's first
   * bad row is named).
   */
  convert(batch: RecordBatch, expireAt: number | undefined): OnlineWrite[] {
    const view = this.view;
    const n = batch.numRows;
    const keyCols = view.joinKeys.map((k) => accessor(column(batch, k.name, view), k.type));
    const ev = column(batch, EVENT_TS_MS_COLUMN, view);
    const evArr = ev.toArray() as BigInt64Array | Float64Array;
    const cr = column(batch, CREATED_TS_MS_COLUMN, view);
    const crArr = cr.toArray() as BigInt64Array | Float64Array;
    const crNulls = cr.nullCount > 0;
    const cols = view.features.map((f, k) => {
      const vec = column(batch, f.name, view);
      return fixedColumn(vec, f.type, this.scratch[k]) ?? genericColumn(vec, f.type, this.encoders[k], this.scratch[k]);
    });
    const nk = keyCols.length;
    const nf = cols.length;
    const keyVals: unknown[] = new Array(nk);
    const out: OnlineWrite[] = new Array(n);
    if (this.sizes.length < n + 1) {
      this.sizes = new Int32Array(n + 1);
      this.cur = new Int32Array(n + 1);
    }
    const sizes = this.sizes;
    const cur = this.cur;
    let i = 0;
    let f = -1;
    try {
      // Entity keys and timestamps (row by row), then sizes column by column.
      const entities: Buffer[] = new Array(n);
      for (; i < n; i++) {
        for (let k = 0; k < nk; k++) keyVals[k] = keyCols[k](i);
        entities[i] = this.keys.encode(keyVals);
      }
      if (ev.nullCount > 0) {
        for (i = 0; i < n; i++) if (!ev.isValid(i)) throw new PitstopError('VALUE_TYPE_MISMATCH', `${EVENT_TS_MS_COLUMN}: event timestamp is missing`);
      }
      let same = ROW_HEADER_BYTES;
      for (const c of cols) same += c.fixed ?? 0;
      sizes.fill(same, 0, n);
      for (f = 0; f < nf; f++) {
        failedRow = -1;
        if (cols[f].fixed === undefined) cols[f].size(sizes, n);
      }
      f = -1;
      let total = 0;
      for (i = 0; i < n; i++) {
        cur[i] = total;
        total += sizes[i];
      }
      cur[n] = total;
      // One buffer per batch, exactly its size: rows handed to the writer stay valid while in flight.
      const buf = Buffer.allocUnsafe(total);
      const starts = sizes; // reused: sizes are no longer needed, row starts are
      starts.set(cur.subarray(0, n + 1));
      for (i = 0; i < n; i++) {
        const p = cur[i];
        buf[p] = ROW_FORMAT_VERSION;
        buf.writeDoubleLE(Number(evArr[i]), p + ROW_EVENT_TS_OFFSET);
        buf.writeDoubleLE(crNulls && !cr.isValid(i) ? NO_CREATED_TS : Number(crArr[i]), p + ROW_CREATED_TS_OFFSET);
        cur[i] = p + ROW_HEADER_BYTES;
      }
      for (let s = 0; s < n; s += TILE_ROWS) {
        const e = Math.min(n, s + TILE_ROWS);
        for (let c = 0; c < nf; c++) cols[c].write(buf, cur, s, e);
      }
      for (i = 0; i < n; i++) {
        if (cur[i] !== starts[i + 1]) throw new Error(`row ${i} encoded to ${cur[i] - starts[i]} bytes, sized ${starts[i + 1] - starts[i]}`);
        out[i] = { view: this.storageId, entity: entities[i], row: buf.subarray(starts[i], starts[i + 1]), expireAtMs: expireAt };
      }
    } catch (e) {
      const row = f >= 0 ? failedRow : i;
      const where = f >= 0 ? `feature "${view.features[f].name}"` : 'join keys / timestamps';
      const msg = isPitstopError(e) ? e.message : String(e);
      throw new PitstopError('MATERIALIZE_FAILED', `${view.name}@${view.version}: offline row ${row} of a batch, ${where}: ${msg}`, { cause: e });
    }
    return out;
  }
}
