/**
 * Arrow batch → rows: every feature type, nulls in fixed-width columns (read from the validity
 * bitmap, also at a non-zero slice offset), and errors naming view, row and feature.
 */
import { describe, expect, it } from 'vitest';
import { Bool, Field, Float32, Float64, Int32, Int64, List, RecordBatch, Schema, Struct, TimestampMillisecond, Utf8, Binary, makeData, vectorFromArray, type DataType } from 'apache-arrow';
import { ArrowRowConverter } from '../../src/materialize/arrow-rows.ts';
import { RowEncoder, decodeRow } from '../../src/online/row-codec.ts';
import { decodeEntityKey } from '../../src/online/entity-key.ts';
import { buildSnapshot } from '../support/snapshot.ts';

const snapshot = buildSnapshot({
  views: [{
    name: 'v',
    entities: { e: { id: 'int64' } },
    source: { path: 'x.parquet' },
    features: { f64: 'float64', f32: 'float32', i32: 'int32', i64: 'int64', b: 'bool', s: 'string', by: 'bytes', ts: 'timestamp', l: 'list<int64>' },
  }],
});
const view = snapshot.featureViews.v.versions[0];

function batch(cols: [string, DataType, unknown[]][]): RecordBatch {
  const fields = cols.map(([n, t]) => new Field(n, t, true));
  const children = cols.map(([, t, v]) => vectorFromArray(v as never, t as never).data[0]);
  const len = cols[0][2].length;
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: len, nullCount: 0, children }));
}

const full = batch([
  ['id', new Int64(), [1n, 2n, 3n]],
  ['__event_ts_ms', new Int64(), [10n, 20n, 30n]],
  ['__created_ts_ms', new Int64(), [11n, null, 31n]],
  ['f64', new Float64(), [1.5, null, 3.5]],
  ['f32', new Float32(), [null, 0.25, 1]],
  ['i32', new Int32(), [-1, 2, null]],
  ['i64', new Int64(), [null, 2n ** 60n, -5n]],
  ['b', new Bool(), [true, null, false]],
  ['s', new Utf8(), ['a', 'b', null]],
  ['by', new Binary(), [Buffer.from([1]), null, Buffer.from([])]],
  ['ts', new TimestampMillisecond(), [1000, null, 3000]],
  ['l', new List(new Field('item', new Int64(), true)), [[1n, 2n], [], null]],
]);

describe('ArrowRowConverter', () => {
  it('encodes every type, with nulls, into rows and entity keys', () => {
    const writes = new ArrowRowConverter(view).convert(full, 99);
    expect(writes.map((w) => decodeEntityKey(view.joinKeys, w.entity))).toEqual([[1n], [2n], [3n]]);
    expect(writes.every((w) => w.view === 'v@1' && w.expireAtMs === 99)).toBe(true);
    const rows = writes.map((w) => decodeRow(w.row, view.features.length));
    expect(rows.map((r) => [r.eventMs, r.createdMs])).toEqual([[10, 11], [20, null], [30, 31]]);
    expect(rows[0].values).toEqual([1.5, null, -1, null, true, 'a', Buffer.from([1]), 1000, [1n, 2n]]);
    expect(rows[1].values).toEqual([null, 0.25, 2, 2n ** 60n, null, 'b', null, null, []]);
    expect(rows[2].values).toEqual([3.5, 1, null, -5n, false, null, Buffer.from([]), 3000, null]);
  });

  it('reads validity bitmaps at a slice offset', () => {
    const sliced = full.slice(1, 3);
    const rows = new ArrowRowConverter(view).convert(sliced, undefined).map((w) => decodeRow(w.row, view.features.length));
    expect(rows.map((r) => r.values.slice(0, 4))).toEqual([[null, 0.25, 2, 2n ** 60n], [3.5, 1, null, -5n]]);
  });

  it('names the view, row and feature of a value that does not fit', () => {
    const bad = batch([
      ['id', new Int64(), [1n, 2n]],
      ['__event_ts_ms', new Int64(), [10n, 20n]],
      ['__created_ts_ms', new Int64(), [null, null]],
      ['f64', new Float64(), [1, 2]], ['f32', new Float32(), [1, 2]], ['i32', new Int32(), [1, 2]],
      ['i64', new Int64(), [1n, 2n]], ['b', new Bool(), [true, true]],
      ['s', new Int32(), [1, 2]], // a string feature handed an int column
      ['by', new Binary(), [null, null]], ['ts', new TimestampMillisecond(), [null, null]], ['l', new List(new Field('item', new Int64(), true)), [null, null]],
    ]);
    expect(() => new ArrowRowConverter(view).convert(bad, undefined)).toThrow(/v@1: offline row 0 of a batch, feature "s": s: expected string/);
    const missing = batch([['id', new Int64(), [1n]]]);
    expect(() => new ArrowRowConverter(view).convert(missing, undefined)).toThrow(/has no column "__event_ts_ms"/);
  });

  it('writes the same bytes as RowEncoder row by row, for varint edge values and nulls at any offset', () => {
    const ints32 = [0, 1, 127, 128, 16383, 16384, -1, -128, 2147483647, -2147483648, null];
    const ints64 = [0n, 127n, 128n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 35n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), -1n, null];
    const n = 40;
    const pick = <T,>(a: T[], i: number) => a[(i * 7) % a.length];
    const b = batch([
      ['id', new Int64(), Array.from({ length: n }, (_, i) => BigInt(i))],
      ['__event_ts_ms', new Int64(), Array.from({ length: n }, (_, i) => BigInt(1_700_000_000_000 + i))],
      ['__created_ts_ms', new Int64(), Array.from({ length: n }, (_, i) => (i % 3 ? BigInt(i) : null))],
      ['f64', new Float64(), Array.from({ length: n }, (_, i) => (i % 5 === 0 ? null : i * 1.25 - 7))],
      ['f32', new Float32(), Array.from({ length: n }, (_, i) => (i % 4 === 1 ? null : i / 4))],
      ['i32', new Int32(), Array.from({ length: n }, (_, i) => pick(ints32, i))],
      ['i64', new Int64(), Array.from({ length: n }, (_, i) => pick(ints64, i))],
      ['b', new Bool(), Array.from({ length: n }, (_, i) => (i % 3 === 0 ? null : i % 2 === 0))],
      ['s', new Utf8(), Array.from({ length: n }, (_, i) => (i % 6 === 0 ? null : 'x'.repeat(i * 5)))],
      ['by', new Binary(), Array.from({ length: n }, (_, i) => (i % 2 ? null : Buffer.alloc(i * 4, i)))],
      ['ts', new TimestampMillisecond(), Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : i * 1000))],
      ['l', new List(new Field('item', new Int64(), true)), Array.from({ length: n }, (_, i) => (i % 5 === 0 ? null : Array.from({ length: i }, (_, k) => BigInt(k))))],
    ]);
    const enc = new RowEncoder(view.features);
    for (const part of [b, b.slice(3, 37)]) {
      const writes = new ArrowRowConverter(view).convert(part, undefined);
      expect(writes.length).toBe(part.numRows);
      for (let i = 0; i < part.numRows; i++) {
        const row = part.get(i)!.toJSON() as Record<string, unknown>;
        const values = view.features.map((f) => {
          const v = row[f.name] as unknown;
          if (v === null || v === undefined) return null;
          if (f.type === 'list<int64>') return Array.from(v as Iterable<bigint>);
          if (f.type === 'bytes') return Buffer.from(v as Uint8Array);
          return v;
        });
        const created = row.__created_ts_ms === null ? null : Number(row.__created_ts_ms);
        const expected = Buffer.from(enc.encode(Number(row.__event_ts_ms), created, values));
        expect(Buffer.from(writes[i].row).toString('hex'), `row ${i}`).toBe(expected.toString('hex'));
      }
    }
  });
});

