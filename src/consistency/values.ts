/**
 * Feature values in one canonical JS form per feature type, so a value read from the offline
 * store (Arrow) and one decoded from an online row compare by what they mean, not by how each
 * side happens to carry them (an int64 may come as a number or a bigint, bytes as a Uint8Array
 * or a Buffer, a timestamp as fractional ms from Arrow or whole ms from the row codec).
 *
 * Canonical forms: int32, float64 → number; float32 → number rounded to float32; int64 →
 * bigint; bool → boolean; string → string; bytes → Buffer; timestamp → whole epoch ms (floor,
 * as the online codec stores it); list<T> → array of canonical T; missing → null.
 *
 * Pure: no I/O, unit-tested in test/consistency/values.test.ts.
 */
import { listElementType, type FeatureType, type ScalarType } from '../core/feature-types.ts';

export type CanonicalValue = null | number | bigint | boolean | string | Buffer | CanonicalValue[];

function scalar(type: ScalarType, v: unknown): CanonicalValue {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'int32':
    case 'float64':
      return Number(v);
    case 'float32':
      return Math.fround(Number(v));
    case 'int64':
      return typeof v === 'bigint' ? v : BigInt(v as number | string);
    case 'bool':
      return Boolean(v);
    case 'string':
      return String(v);
    case 'bytes':
      return Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(String(v));
    case 'timestamp':
      if (v instanceof Date) return v.getTime();
      return Math.floor(Number(v));
  }
}

/** The canonical form of `v` as a value of `type` (typed arrays and Arrow vectors accepted for lists). */
export function canonical(type: FeatureType, v: unknown): CanonicalValue {
  if (v === null || v === undefined) return null;
  const elem = listElementType(type);
  if (!elem) return scalar(type as ScalarType, v);
  const items = Array.isArray(v) ? v : Array.from(v as Iterable<unknown>);
  return items.map((x) => scalar(elem, x));
}

function sameScalar(type: ScalarType, a: CanonicalValue, b: CanonicalValue): boolean {
  if (a === null || b === null) return a === b;
  switch (type) {
    case 'float32':
      // Both sides already rounded to float32: equal at float32 precision, NaN equal to NaN.
      return a === b || (Number.isNaN(a) && Number.isNaN(b));
    case 'float64':
      return a === b || (Number.isNaN(a) && Number.isNaN(b));
    case 'bytes':
      return (a as Buffer).equals(b as Buffer);
    default:
      return a === b;
  }
}

/**
 * Whether two canonical values of `type` are the same: exact for integers, strings, bools,
 * bytes and timestamps (ms); float32 at float32 precision; float64 exactly; NaN equals NaN and
 * 0 equals -0 (both sides store the same bits for what a user would call the same value);
 * lists element by element (same length, nulls equal only to nulls); null equals only null.
 */
export function sameValue(type: FeatureType, a: CanonicalValue, b: CanonicalValue): boolean {
  if (a === null || b === null) return a === b;
  const elem = listElementType(type);
  if (!elem) return sameScalar(type as ScalarType, a, b);
  const la = a as CanonicalValue[];
  const lb = b as CanonicalValue[];
  if (la.length !== lb.length) return false;
  for (let i = 0; i < la.length; i++) if (!sameScalar(elem, la[i], lb[i])) return false;
  return true;
}

/** A canonical value as JSON carries it: int64 as a number when safe (else a string), bytes as base64, timestamps as ISO text. */
export function jsonValue(type: FeatureType, v: CanonicalValue): unknown {
  if (v === null) return null;
  if (Array.isArray(v)) {
    const elem = listElementType(type) ?? (type as ScalarType);
    return v.map((x) => jsonValue(elem, x));
  }
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (type === 'timestamp' && typeof v === 'number') return new Date(v).toISOString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}
