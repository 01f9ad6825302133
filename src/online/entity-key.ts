/**
 * Encoded entity keys: the join key values of one entity row as a compact, canonical Buffer.
 * The same entity always gives the same bytes, whether an int64 id arrived as a number, a
 * bigint or a string of digits.
 *
 * ```
 * byte 0      ENTITY_KEY_FORMAT (1); never `{` or `}`, which keeps a Redis hash tag non-empty
 * then per join key, in the view's join key order:
 *   int32, int64  zigzag varint
 *   string        varint byte length + UTF-8
 *   bytes         varint byte length + bytes
 * ```
 * Join key names are not stored: an entity key is read together with the view that gives its
 * join keys (see docs/online-storage-format.md for what that means for sharing).
 */
import { PitstopError } from '../core/errors.ts';
import type { JoinKeyType } from '../core/feature-types.ts';
import type { JoinKey } from '../core/registry-model.ts';
import { ByteWriter } from './byte-writer.ts';
import { toInt32, toInt64 } from './value-codec.ts';

export const ENTITY_KEY_FORMAT = 1;

type KeyWriter = (w: ByteWriter, v: unknown, field: string) => void;

function zigzagNumber(w: ByteWriter, n: number): void {
  // Safe integers: zigzag = n*2 for n >= 0, -n*2-1 below; exact up to 2^53 as a double.
  if (n >= 0 && n < 2 ** 52) return w.varintNumber(n * 2);
  if (n < 0 && n > -(2 ** 52)) return w.varintNumber(-n * 2 - 1);
  zigzagBigint(w, BigInt(n));
}

function zigzagBigint(w: ByteWriter, n: bigint): void {
  const z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  w.varintBigint(z);
}

const WRITERS: Record<JoinKeyType, KeyWriter> = {
  int32: (w, v, f) => zigzagNumber(w, toInt32(v, f)),
  int64: (w, v, f) => {
    const n = toInt64(v, f);
    if (typeof n === 'number') zigzagNumber(w, n);
    else zigzagBigint(w, n);
  },
  string: (w, v, f) => {
    if (typeof v !== 'string') throw new PitstopError('VALUE_TYPE_MISMATCH', `${f}: expected string, got ${typeof v} ${String(v)}`);
    w.lenString(v);
  },
  bytes: (w, v, f) => {
    if (!(v instanceof Uint8Array)) throw new PitstopError('VALUE_TYPE_MISMATCH', `${f}: expected bytes, got ${typeof v}`);
    w.lenBytes(v);
  },
};

/** Encodes entity keys for one list of join keys (one view's, or several views' sharing them). */
export class EntityKeyEncoder {
  readonly joinKeys: readonly JoinKey[];
  private readonly writers: KeyWriter[];
  private readonly w = new ByteWriter(1 << 16);

  constructor(joinKeys: readonly JoinKey[]) {
    this.joinKeys = joinKeys;
    this.writers = joinKeys.map((k) => WRITERS[k.type]);
  }

  /**
   * Encode one entity from its join key values in join key order. The result is a subarray of
   * a shared chunk buffer (valid forever; it is never overwritten).
   * Throws VALUE_TYPE_MISMATCH naming the join key (missing values included).
   */
  encode(values: readonly unknown[]): Buffer {
    const w = this.w;
    if (w.pos > w.buf.length - 256) w.reset();
    const start = w.pos;
    try {
      w.u8(ENTITY_KEY_FORMAT);
      for (let c = 0; c < this.writers.length; c++) this.writeKey(w, c, values[c]);
    } catch (e) {
      w.pos = start;
      throw e;
    }
    return w.slice(start);
  }

  /**
   * Encode n entities into one packed list, entity i's join key values being `columns[c][i]`
   * (columns in join key order): one Buffer view and one offsets array for the whole list, not
   * a Buffer per entity (serving's hot path; those were its largest source of garbage). The
   * bytes live in the shared chunk, never overwritten. On a bad value nothing is kept and a
   * BadEntityRow names the entity row, its cause the VALUE_TYPE_MISMATCH naming the join key.
   */
  encodeColumns(columns: readonly (readonly unknown[])[], n: number): EntityKeyList {
    const w = this.w;
    // Room for typical keys (a few bytes each) in the chunk, or a fresh chunk; longer keys grow it.
    const room = 16 * (n + 1) + 256;
    if (w.pos > w.buf.length - room) w.reset(Math.max(1 << 16, 2 * room));
    const start = w.pos;
    const offsets = new Int32Array(n + 1);
    const keys = this.writers.length;
    let i = 0;
    try {
      for (; i < n; i++) {
        w.u8(ENTITY_KEY_FORMAT);
        for (let c = 0; c < keys; c++) this.writeKey(w, c, columns[c][i]);
        offsets[i + 1] = w.pos - start;
      }
    } catch (e) {
      w.pos = start;
      throw new BadEntityRow(i, e);
    }
    return new EntityKeyList(w.buf.subarray(start, w.pos), offsets, n);
  }

  /** Writes join key `c`'s value; a missing or mistyped one is VALUE_TYPE_MISMATCH naming the key. */
  private writeKey(w: ByteWriter, c: number, v: unknown): void {
    const name = this.joinKeys[c].name;
    if (v === null || v === undefined) throw new PitstopError('VALUE_TYPE_MISMATCH', `${name}: join key is missing`);
    this.writers[c](w, v, name);
  }

  /** Encode from a record keyed by join key name. */
  encodeRecord(record: Readonly<Record<string, unknown>>): Buffer {
    return this.encode(this.joinKeys.map((k) => record[k.name]));
  }
}

/** `encodeColumns` refused entity row `row`; `cause` says why. */
export class BadEntityRow extends Error {
  constructor(
    readonly row: number,
    override readonly cause: unknown,
  ) {
    super(`entity row ${row}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'BadEntityRow';
  }
}

/**
 * The entity keys of n entity rows (one view's, or several views' sharing join keys), packed:
 * key i is `bytes[offsets[i] .. offsets[i + 1])`. The online reader port takes lists, so a read
 * of many entities costs two objects, not one Buffer per entity.
 */
export class EntityKeyList {
  constructor(
    /** Every key's bytes, back to back. */
    readonly bytes: Uint8Array,
    /** n + 1 offsets into `bytes`: key i starts at offsets[i] and ends at offsets[i + 1]; offsets[0] is 0. */
    readonly offsets: Int32Array,
    /** Entity rows in the list. */
    readonly length: number = offsets.length - 1,
  ) {}

  /** Key i as a Buffer of its own (a view into `bytes`; cold paths: writes, tools, the cluster fallback). */
  key(i: number): Buffer {
    const s = this.offsets[i];
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + s, this.offsets[i + 1] - s);
  }

  /** Every key as its own Buffer. */
  toArray(): Buffer[] {
    const out: Buffer[] = new Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.key(i);
    return out;
  }

  /** A list of the given keys (copied). */
  static of(keys: readonly Uint8Array[]): EntityKeyList {
    const offsets = new Int32Array(keys.length + 1);
    let total = 0;
    for (let i = 0; i < keys.length; i++) offsets[i + 1] = total += keys[i].length;
    const bytes = Buffer.allocUnsafe(total);
    for (let i = 0; i < keys.length; i++) bytes.set(keys[i], offsets[i]);
    return new EntityKeyList(bytes, offsets, keys.length);
  }
}

/** One-off encoding (CLI, tests). */
export function encodeEntityKey(joinKeys: readonly JoinKey[], values: readonly unknown[]): Buffer {
  return Buffer.from(new EntityKeyEncoder(joinKeys).encode(values));
}

/** Decode an entity key back to values (int32 → number, int64 → bigint, string, bytes → Buffer). */
export function decodeEntityKey(joinKeys: readonly JoinKey[], key: Uint8Array): unknown[] {
  const bad = (why: string): never => {
    throw new PitstopError('ONLINE_ROW_CORRUPT', `entity key ${Buffer.from(key).toString('hex')}: ${why}`);
  };
  if (key[0] !== ENTITY_KEY_FORMAT) bad(`unknown format ${key[0]}`);
  let p = 1;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (p >= key.length) bad('truncated');
      const byte = key[p++];
      result |= BigInt(byte & 127) << shift;
      if (byte < 128) return result;
      shift += 7n;
      if (shift > 63n) bad('varint too long');
    }
  };
  const out: unknown[] = [];
  for (const k of joinKeys) {
    if (k.type === 'int32' || k.type === 'int64') {
      const z = varint();
      const n = z & 1n ? -((z + 1n) >> 1n) : z >> 1n;
      out.push(k.type === 'int32' ? Number(n) : n);
    } else {
      const len = Number(varint());
      if (p + len > key.length) bad('truncated');
      const b = Buffer.from(key.subarray(p, p + len));
      p += len;
      out.push(k.type === 'string' ? b.toString('utf8') : b);
    }
  }
  if (p !== key.length) bad('trailing bytes');
  return out;
}

/** A readable form for logs and `online get`: `rider_id=1001,city=ams`. */
export function formatEntityKey(joinKeys: readonly JoinKey[], key: Uint8Array): string {
  const values = decodeEntityKey(joinKeys, key);
  return joinKeys.map((k, i) => `${k.name}=${Buffer.isBuffer(values[i]) ? (values[i] as Buffer).toString('hex') : String(values[i])}`).join(',');
}
