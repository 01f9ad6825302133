/**
 * JS values ↔ protobuf wire bytes of `pitstop.types.v1.Value` (proto/pitstop/types/v1/value.proto,
 * Feast's field numbers). Hand-written on Buffers: the online store keeps values in this form
 * so serving can splice stored bytes into a response without re-encoding.
 *
 * JS representation: int32 / float32 / float64 → number; int64 → bigint (number, bigint or a
 * string of digits accepted on input, range-checked); bool → boolean; string; bytes → Buffer
 * (any Uint8Array accepted); timestamp → epoch ms number (Date, ISO string or bigint accepted);
 * list<T> → array (typed arrays accepted on input). null/undefined → the empty message.
 *
 * Encoders are chosen once per feature type (`valueEncoder`), not per value.
 */
import { PitstopError, shownText } from '../core/errors.ts';
import { listElementType, type FeatureType, type ScalarType } from '../core/feature-types.ts';
import { parseInstant } from '../core/time.ts';
import { ByteWriter } from './byte-writer.ts';

/** A decoded feature value. */
export type FeatureValue = null | number | bigint | boolean | string | Buffer | FeatureValue[];

/** Writes the body of one Value message (no outer length) for `v`; throws VALUE_TYPE_MISMATCH. */
export type ValueEncoder = (w: ByteWriter, v: unknown) => void;

/** Field numbers of Value's oneof, by scalar type; list fields are these + 10 (bytes → 11, …). */
export const VALUE_FIELD: Readonly<Record<ScalarType, number>> = Object.freeze({
  bytes: 1, string: 2, int32: 3, int64: 4, float64: 5, float32: 6, bool: 7, timestamp: 8,
});

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TWO_32 = 4294967296;

function mismatch(field: string, type: string, v: unknown): never {
  const shown = typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? shownText(v) : Array.isArray(v) ? 'an array' : v instanceof Uint8Array ? 'bytes' : String(v);
  throw new PitstopError('VALUE_TYPE_MISMATCH', `${field}: expected ${type}, got ${typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) ? 'an object' : `${typeof v} ${shown}`}`);
}

// --- scalar coercion (shared with entity-key.ts) ---

export function toInt32(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) return v;
  if (typeof v === 'bigint' && v >= -2147483648n && v <= 2147483647n) return Number(v);
  return mismatch(field, 'int32', v);
}

/** An int64 as a number when it is safe, else as a bigint (both exact). */
export function toInt64(v: unknown, field: string): number | bigint {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return v;
  } else if (typeof v === 'bigint') {
    if (v >= INT64_MIN && v <= INT64_MAX) return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  } else if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) {
    const b = BigInt(v);
    if (b >= INT64_MIN && b <= INT64_MAX) return Number.isSafeInteger(Number(b)) ? Number(b) : b;
  }
  return mismatch(field, 'int64', v);
}

export function toTimestampMs(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.floor(v);
  if (v instanceof Date && !Number.isNaN(v.getTime())) return v.getTime();
  if (typeof v === 'bigint' && v >= -(2n ** 53n) && v <= 2n ** 53n) return Number(v);
  if (typeof v === 'string') {
    // One parser everywhere: ISO 8601 with an offset, or naive (which means UTC, never the
    // machine's zone, unlike Date.parse).
    const ms = parseInstant(v);
    if (ms !== undefined) return ms;
  }
  return mismatch(field, 'timestamp (epoch ms, Date or ISO 8601 string; naive = UTC)', v);
}

function toFloat(v: unknown, field: string, type: string): number {
  if (typeof v === 'number') return v;
  return mismatch(field, type, v);
}

// --- encoders ---

function writeInt64(w: ByteWriter, n: number | bigint): void {
  if (typeof n === 'number') w.varintNumber(n);
  else w.varintBigint(n);
}

/** Writes one scalar's payload (no tag) and returns nothing; per scalar type. */
type ScalarWriter = (w: ByteWriter, v: unknown, field: string) => void;

const SCALAR_WRITERS: Record<ScalarType, ScalarWriter> = {
  bytes: (w, v, f) => (v instanceof Uint8Array ? w.lenBytes(v) : mismatch(f, 'bytes', v)),
  string: (w, v, f) => (typeof v === 'string' ? w.lenString(v) : mismatch(f, 'string', v)),
  int32: (w, v, f) => w.varintNumber(toInt32(v, f)),
  int64: (w, v, f) => writeInt64(w, toInt64(v, f)),
  float64: (w, v, f) => w.f64(toFloat(v, f, 'float64')),
  float32: (w, v, f) => w.f32(toFloat(v, f, 'float32')),
  bool: (w, v, f) => (typeof v === 'boolean' ? w.u8(v ? 1 : 0) : mismatch(f, 'bool', v)),
  timestamp: (w, v, f) => w.varintNumber(toTimestampMs(v, f)),
};

const WIRE_TYPE: Record<ScalarType, number> = {
  bytes: WT_LEN, string: WT_LEN, int32: WT_VARINT, int64: WT_VARINT, float64: WT_I64, float32: WT_I32, bool: WT_VARINT, timestamp: WT_VARINT,
};

function isListLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/**
 * The encoder for one feature type. `field` names the feature in error messages.
 * @param field used in VALUE_TYPE_MISMATCH messages, e.g. `trips_today`.
 */
export function valueEncoder(type: FeatureType, field: string): ValueEncoder {
  const elem = listElementType(type);
  if (!elem) {
    const scalar = type as ScalarType;
    const tag = (VALUE_FIELD[scalar] << 3) | WIRE_TYPE[scalar];
    const write = SCALAR_WRITERS[scalar];
    return (w, v) => {
      if (v === null || v === undefined) return;
      w.u8(tag);
      write(w, v, field);
    };
  }
  const tag = ((VALUE_FIELD[elem] + 10) << 3) | WT_LEN;
  const write = SCALAR_WRITERS[elem];
  const packed = WIRE_TYPE[elem] !== WT_LEN;
  const elemTag = packed ? 0x0a : (1 << 3) | WT_LEN;
  const fixed = elem === 'float64' ? 8 : elem === 'float32' ? 4 : elem === 'bool' ? 1 : 0;
  return (w, v) => {
    if (v === null || v === undefined) return;
    // A Uint8Array is bytes, not a list, except for list<bool>/ints given as typed arrays.
    if (!isListLike(v) || (v instanceof Uint8Array && elem === 'bytes')) mismatch(field, type, v);
    const list = v as ArrayLike<unknown>;
    const n = list.length;
    w.varint32(tag); // fields 16-18 take two bytes
    const outer = w.beginLen(n * 9 + 2);
    if (packed) {
      if (n > 0) {
        w.u8(elemTag);
        const inner = w.beginLen(fixed ? fixed * n : n * 10);
        for (let i = 0; i < n; i++) {
          const x = list[i];
          if (x === null || x === undefined) mismatch(`${field}[${i}]`, elem, x);
          write(w, x, `${field}[${i}]`);
        }
        w.endLen(inner);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const x = list[i];
        if (x === null || x === undefined) mismatch(`${field}[${i}]`, elem, x);
        w.u8(elemTag);
        write(w, x, `${field}[${i}]`);
      }
    }
    w.endLen(outer);
  };
}

const scratch = new ByteWriter(256);

/** Encode one value to a fresh Buffer (convenience; hot paths use `valueEncoder` with a shared writer). */
export function encodeValue(type: FeatureType, v: unknown, field = 'value'): Buffer {
  scratch.pos = 0;
  valueEncoder(type, field)(scratch, v);
  return Buffer.from(scratch.buf.subarray(0, scratch.pos));
}

// --- decoder ---

/** A cursor over bytes; `decodeValue` and the row codec share it. */
class Reader {
  constructor(readonly b: Uint8Array, public pos: number, readonly end: number) {}

  varint(): number {
    // Up to 2^53 exactly; larger (or negative, 10-byte) values go through varint64.
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) corrupt();
      const byte = this.b[this.pos++];
      result += (byte & 127) * mul;
      if (byte < 128) return result;
      mul *= 128;
    }
    return corrupt();
  }

  /** A 64-bit varint as (lo, hi) unsigned halves. */
  varint64(out: number[]): void {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) corrupt();
      const byte = this.b[this.pos++];
      if (shift < 28) lo |= (byte & 127) << shift;
      else if (shift === 28) {
        lo |= (byte & 15) << 28;
        hi |= (byte & 127) >>> 4;
      } else hi |= (byte & 127) << (shift - 32);
      if (byte < 128) {
        out[0] = lo >>> 0;
        out[1] = hi >>> 0;
        return;
      }
      shift += 7;
    }
    corrupt();
  }
}

function corrupt(): never {
  throw new PitstopError('ONLINE_ROW_CORRUPT', 'malformed Value bytes');
}

const halves = [0, 0];

function readScalar(r: Reader, scalar: ScalarType, wt: number): FeatureValue {
  switch (scalar) {
    case 'bytes':
    case 'string': {
      const len = r.varint();
      const start = r.pos;
      r.pos += len;
      if (r.pos > r.end) corrupt();
      const b = r.b as Buffer;
      return scalar === 'string' ? b.toString('utf8', start, r.pos) : Buffer.from(b.buffer, b.byteOffset + start, len);
    }
    case 'float64': {
      const v = Buffer.prototype.readDoubleLE.call(r.b, r.pos);
      r.pos += 8;
      return v;
    }
    case 'float32': {
      const v = Buffer.prototype.readFloatLE.call(r.b, r.pos);
      r.pos += 4;
      return v;
    }
    case 'bool':
      return r.varint() !== 0;
    case 'int32':
      r.varint64(halves);
      return halves[0] | 0;
    case 'int64':
      r.varint64(halves);
      return BigInt.asIntN(64, (BigInt(halves[1]) << 32n) | BigInt(halves[0]));
    case 'timestamp':
      r.varint64(halves);
      return (halves[1] | 0) * TWO_32 + halves[0];
  }
  void wt;
  return corrupt();
}

const SCALAR_BY_FIELD: (ScalarType | undefined)[] = [];
for (const [t, n] of Object.entries(VALUE_FIELD)) SCALAR_BY_FIELD[n] = t as ScalarType;

/**
 * Decode Value bytes (a subarray of a stored row is fine; bytes values returned share its
 * memory). The type comes from the field number, so no schema is needed. Empty → null.
 */
export function decodeValue(bytes: Uint8Array, start = 0, end = bytes.length): FeatureValue {
  if (start >= end) return null;
  const buf = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(buf, start, end);
  let out: FeatureValue = null;
  while (r.pos < end) {
    const key = r.varint();
    const fieldNo = key >>> 3;
    const wt = key & 7;
    const scalar = SCALAR_BY_FIELD[fieldNo];
    if (scalar) {
      out = readScalar(r, scalar, wt);
      continue;
    }
    const elem = SCALAR_BY_FIELD[fieldNo - 10];
    if (!elem || wt !== WT_LEN) corrupt();
    const len = r.varint();
    const listEnd = r.pos + len;
    if (listEnd > end) corrupt();
    const inner = new Reader(buf, r.pos, listEnd);
    const list: FeatureValue[] = [];
    while (inner.pos < listEnd) {
      const k = inner.varint();
      if (k >>> 3 !== 1) corrupt();
      if ((k & 7) === WT_LEN && WIRE_TYPE[elem] !== WT_LEN) {
        // packed run
        const runLen = inner.varint();
        const runEnd = inner.pos + runLen;
        const run = new Reader(buf, inner.pos, runEnd);
        while (run.pos < runEnd) list.push(readScalar(run, elem, WIRE_TYPE[elem]));
        inner.pos = runEnd;
      } else list.push(readScalar(inner, elem, k & 7));
    }
    r.pos = listEnd;
    out = list;
  }
  return out;
}
