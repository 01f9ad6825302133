/**
 * Arrow batch → rows: every feature type, nulls in fixed-width columns (read from the validity
 * bitmap, also at a non-zero slice offset), and errors naming view, row and feature.
 */
import { describe, expect, it } from 'vitest';
import { Bool, Field, Float32, Float64, Int32, Int64, List, RecordBatch, Schema, Struct, TimestampMillisecond, Utf8, Binary, makeData, vectorFromArray, type DataType } from 'apache-arrow';
import { ArrowRowConverter } from '../../src/materialize/arrow-rows.ts';
import { decodeRow } from '../../src/online/row-codec.ts';
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
});
