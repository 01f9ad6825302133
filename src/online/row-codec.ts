/**
 * The stored row of one (view version, entity): what the online store keeps and returns.
 *
 * ```
 * offset 0   u8       ROW_FORMAT_VERSION (1)
 * offset 1   f64 LE   event timestamp, epoch ms
 * offset 9   f64 LE   created timestamp, epoch ms (NO_CREATED_TS when the source has none)
 * offset 17  per feature, in view order: varint length, then that many bytes of an encoded
 *            pitstop.types.v1.Value (length 0 = the empty message = null)
 * ```
 * Timestamps are float64 so that Redis's Lua reads them with `struct.unpack('<d', row, 2)`
 * (exact for integer ms up to 2^53). Each feature's "varint length + Value bytes" is exactly a
 * protobuf length-delimited payload, so serving can copy it behind a field tag unchanged.
 * The full spec is docs/online-storage-format.md.
 */
import { PitstopError } from '../core/errors.ts';
import type { FeatureDef } from '../core/registry-model.ts';
import { ByteWriter } from './byte-writer.ts';
import { decodeValue, valueEncoder, type FeatureValue, type ValueEncoder } from './value-codec.ts';

export const ROW_FORMAT_VERSION = 1;
export const ROW_HEADER_BYTES = 17;
export const ROW_EVENT_TS_OFFSET = 1;
export const ROW_CREATED_TS_OFFSET = 9;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const F32 = new Float32Array(1);
const F32_BYTES = new Uint8Array(F32.buffer);

/** Stored created timestamp meaning "none": the earliest Date, so any real one is newer. */
export const NO_CREATED_TS = -8.64e15;

/**
 * Encodes rows of one view version. Rows are written into a shared chunk buffer and returned
 * as subarrays (no per-row allocation); call `newChunk()` between batches.
 */
export class RowEncoder {
  readonly count: number;
  private readonly encoders: ValueEncoder[];
  private readonly w: ByteWriter;
  private rowStart = -1;
  private next = 0;

  /**
   * @param features the view version's features, in view order.
   * @param chunkBytes size of each chunk buffer; default 1 MiB.
   */
  constructor(features: readonly Pick<FeatureDef, 'name' | 'type'>[], chunkBytes = 1 << 20) {
    this.count = features.length;
    this.encoders = features.map((f) => valueEncoder(f.type, f.name));
    this.w = new ByteWriter(chunkBytes);
  }

  /**
   * Start a new chunk buffer; rows returned before stay valid (they keep the old buffer).
   * @param bytes expected size of the chunk (saves regrowing); default the constructor's chunkBytes.
   */
  newChunk(bytes?: number): void {
    this.w.reset(bytes);
  }

  /** Start a row; then call `value(i, v)` for i = 0..count-1 in order, then `end()`. */
  begin(eventMs: number, createdMs: number | null | undefined): void {
    const w = this.w;
    w.ensure(ROW_HEADER_BYTES);
    this.rowStart = w.pos;
    w.buf[w.pos] = ROW_FORMAT_VERSION;
    w.buf.writeDoubleLE(eventMs, w.pos + ROW_EVENT_TS_OFFSET);
    w.buf.writeDoubleLE(createdMs ?? NO_CREATED_TS, w.pos + ROW_CREATED_TS_OFFSET);
    w.pos += ROW_HEADER_BYTES;
    this.next = 0;
  }

  /** Append feature `i`'s value (features must come in view order). Throws VALUE_TYPE_MISMATCH. */
  value(i: number, v: unknown): void {
    if (i !== this.next) throw new Error(`RowEncoder: feature ${i} written out of order (expected ${this.next})`);
    const mark = this.w.beginLen(64);
    this.encoders[i](this.w, v);
    this.w.endLen(mark);
    this.next++;
  }

  // --- fast paths for column-wise encoders whose values are known to fit the type (typed
  // arrays from Arrow): no checks, no closures. Each appends the next feature, like value(). ---

  putNull(): void {
    this.w.u8(0);
    this.next++;
  }

  putFloat64(v: number): void {
    const w = this.w;
    w.ensure(10);
    w.buf[w.pos] = 9;
    w.buf[w.pos + 1] = 0x29;
    if (LITTLE_ENDIAN) {
      F64[0] = v;
      w.buf.set(F64_BYTES, w.pos + 2);
    } else w.buf.writeDoubleLE(v, w.pos + 2);
    w.pos += 10;
    this.next++;
  }

  putFloat32(v: number): void {
    const w = this.w;
    w.ensure(6);
    w.buf[w.pos] = 5;
    w.buf[w.pos + 1] = 0x35;
    if (LITTLE_ENDIAN) {
      F32[0] = v;
      w.buf.set(F32_BYTES, w.pos + 2);
    } else w.buf.writeFloatLE(v, w.pos + 2);
    w.pos += 6;
    this.next++;
  }

  /** An int32 (tag 3) or, with `int64`, an int64 (tag 4) given as a safe integer number. */
  putInt(v: number, int64: boolean): void {
    const w = this.w;
    w.ensure(12);
    const lenAt = w.pos;
    w.buf[lenAt + 1] = int64 ? 0x20 : 0x18;
    w.pos += 2;
    w.varintNumber(v); // at most 10 bytes, so the length fits one byte
    w.buf[lenAt] = w.pos - lenAt - 1;
    this.next++;
  }

  putBigInt64(v: bigint): void {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return this.putInt(n, true);
    const w = this.w;
    w.ensure(12);
    const lenAt = w.pos;
    w.buf[lenAt + 1] = 0x20;
    w.pos += 2;
    w.varintBigint(v);
    w.buf[lenAt] = w.pos - lenAt - 1;
    this.next++;
  }

  putBool(v: boolean): void {
    const w = this.w;
    w.ensure(3);
    w.buf[w.pos] = 2;
    w.buf[w.pos + 1] = 0x38;
    w.buf[w.pos + 2] = v ? 1 : 0;
    w.pos += 3;
    this.next++;
  }

  /** Finish the row and return its bytes (a subarray of the chunk buffer). */
  end(): Buffer {
    if (this.next !== this.count) throw new Error(`RowEncoder: row ended after ${this.next} of ${this.count} features`);
    const start = this.rowStart;
    this.rowStart = -1;
    return this.w.slice(start);
  }

  /** Encode one row from values in view order. On a type error the chunk is left consistent. */
  encode(eventMs: number, createdMs: number | null | undefined, values: readonly unknown[]): Buffer {
    const start = this.w.pos;
    try {
      this.begin(eventMs, createdMs);
      for (let i = 0; i < this.count; i++) this.value(i, values[i]);
      return this.end();
    } catch (e) {
      this.w.pos = start;
      throw e;
    }
  }

  /** Drop a row begun with `begin` (after a type error in `value`). */
  abort(): void {
    if (this.rowStart >= 0) this.w.pos = this.rowStart;
    this.rowStart = -1;
  }
}

function checkHeader(row: Uint8Array): void {
  checkSpanHeader(row, 0, row.length);
}

function checkSpanHeader(data: Uint8Array, start: number, end: number): void {
  if (end - start < ROW_HEADER_BYTES || data[start] !== ROW_FORMAT_VERSION) {
    throw new PitstopError('ONLINE_ROW_CORRUPT', `stored row has format ${data[start]} and ${end - start} bytes; expected format ${ROW_FORMAT_VERSION}`);
  }
}

/**
 * The little-endian double at `row[offset]` (the caller has checked the bounds): byte copies into
 * a shared Float64Array, which the JIT inlines. Buffer#readDoubleLE (its generic
 * `readDoubleForwards`) showed as 18 µs per 500-row read in a serving profile (2026-12-06 06:24).
 */
function f64(row: Uint8Array, offset: number): number {
  if (!LITTLE_ENDIAN) return Buffer.prototype.readDoubleLE.call(row, offset);
  const b = F64_BYTES;
  b[0] = row[offset];
  b[1] = row[offset + 1];
  b[2] = row[offset + 2];
  b[3] = row[offset + 3];
  b[4] = row[offset + 4];
  b[5] = row[offset + 5];
  b[6] = row[offset + 6];
  b[7] = row[offset + 7];
  return F64[0];
}

export function rowEventMs(row: Uint8Array): number {
  return rowEventMsAt(row, 0, row.length);
}

/** The event time of the row stored at `data[start..end)` (a row among others in one buffer). */
export function rowEventMsAt(data: Uint8Array, start: number, end: number): number {
  checkSpanHeader(data, start, end);
  return f64(data, start + ROW_EVENT_TS_OFFSET);
}

/** The created timestamp, or null when the row was written without one. */
export function rowCreatedMs(row: Uint8Array): number | null {
  checkHeader(row);
  const v = f64(row, ROW_CREATED_TS_OFFSET);
  return v === NO_CREATED_TS ? null : v;
}

/**
 * Locate every feature's Value bytes without copying: for feature i, `out[2i]` is the first
 * byte of its Value and `out[2i+1]` one past the last (equal = null). The varint length sits
 * just before `out[2i]` (its size is `varintSize(out[2i+1] - out[2i])`).
 * @param out reusable array of at least 2 × count entries.
 */
export function rowValueOffsets(row: Uint8Array, count: number, out: Int32Array | number[]): void {
  rowValueOffsetsAt(row, 0, row.length, count, out);
}

/**
 * `rowValueOffsets` for the row stored at `data[start..end)`; the offsets are positions in
 * `data`, so values can be copied from the shared buffer directly.
 */
export function rowValueOffsetsAt(data: Uint8Array, start: number, end: number, count: number, out: Int32Array | number[]): void {
  checkSpanHeader(data, start, end);
  let p = start + ROW_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    let len = 0;
    let shift = 0;
    let byte: number;
    do {
      if (p >= end) throw new PitstopError('ONLINE_ROW_CORRUPT', `stored row ends before feature ${i} of ${count}`);
      byte = data[p++];
      len |= (byte & 127) << shift;
      shift += 7;
    } while (byte >= 128 && shift < 35);
    out[2 * i] = p;
    p += len;
    out[2 * i + 1] = p;
    if (p > end) throw new PitstopError('ONLINE_ROW_CORRUPT', `stored row is truncated inside feature ${i} of ${count}`);
  }
}

/** Feature i's Value bytes as a subarray (empty = null). Scans the lengths before it. */
export function rowValue(row: Buffer, index: number): Buffer {
  const offsets = new Int32Array(2 * (index + 1));
  rowValueOffsets(row, index + 1, offsets);
  return row.subarray(offsets[2 * index], offsets[2 * index + 1]);
}

export interface DecodedRow {
  eventMs: number;
  createdMs: number | null;
  values: FeatureValue[];
}

/** Decode a whole row (debugging, `online get`, JSON responses). */
export function decodeRow(row: Buffer, count: number): DecodedRow {
  const offsets = new Int32Array(2 * count);
  rowValueOffsets(row, count, offsets);
  const values: FeatureValue[] = new Array(count);
  for (let i = 0; i < count; i++) values[i] = decodeValue(row, offsets[2 * i], offsets[2 * i + 1]);
  return { eventMs: rowEventMs(row), createdMs: rowCreatedMs(row), values };
}
