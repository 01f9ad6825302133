/**
 * Turns a streaming DuckDB result into apache-arrow RecordBatches. @duckdb/node-api hands out
 * data chunks (2048 rows); we gather them into batches of `batchRows` and build Arrow columns
 * from typed arrays where the type is fixed-width, so memory stays bounded by one batch.
 *
 * Types follow `duckdbType(feature type)`: int32 → Int32, int64 → Int64, float32/64 → Float32/64,
 * bool → Bool, string → Utf8, bytes → Binary, timestamp → Timestamp(µs, UTC) (the SQL hands
 * timestamps over as BIGINT epoch µs, so no precision is lost), list<T> → List<T> (list
 * elements of type timestamp keep millisecond precision: Arrow JS builders take ms).
 */
import {
  Binary, Bool, Field, Float32, Float64, Int32, Int64, List, RecordBatch, Schema, Struct,
  TimestampMicrosecond, Utf8, makeBuilder, makeData, type DataType, type Data,
} from 'apache-arrow';
import type { DuckDBDataChunk, DuckDBResult, DuckDBValue } from '@duckdb/node-api';
import { listElementType, type FeatureType } from '../core/feature-types.ts';
import { translateDuckDBError } from './duckdb-session.ts';

export interface ArrowColumn {
  name: string;
  type: FeatureType;
}

/** Default rows per RecordBatch. */
export const DEFAULT_BATCH_ROWS = 65_536;

export function arrowType(t: FeatureType): DataType {
  const elem = listElementType(t);
  if (elem) return new List(new Field('item', arrowType(elem), true));
  switch (t) {
    case 'int32': return new Int32();
    case 'int64': return new Int64();
    case 'float32': return new Float32();
    case 'float64': return new Float64();
    case 'bool': return new Bool();
    case 'string': return new Utf8();
    case 'bytes': return new Binary();
    case 'timestamp': return new TimestampMicrosecond('UTC');
  }
  throw new Error(`unreachable feature type ${t}`);
}

export function arrowSchema(columns: readonly ArrowColumn[]): Schema {
  return new Schema(columns.map((c) => new Field(c.name, arrowType(c.type), true)));
}

/** Streams a DuckDB result as RecordBatches with the given column types (in result order). */
export async function* toRecordBatches(result: DuckDBResult, columns: readonly ArrowColumn[], batchRows = DEFAULT_BATCH_ROWS): AsyncGenerator<RecordBatch> {
  const schema = arrowSchema(columns);
  let pending: unknown[][] = columns.map(() => []);
  let rows = 0;
  for (;;) {
    let chunk: DuckDBDataChunk | null;
    try {
      chunk = await result.fetchChunk();
    } catch (e) {
      throw translateDuckDBError(e);
    }
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const vectors = columns.map((_c, c) => chunk!.getColumnVector(c));
    // Batches hold exactly `batchRows` rows (the last one fewer), whatever DuckDB's chunk size.
    for (let from = 0; from < n; ) {
      const to = Math.min(n, from + (batchRows - rows));
      for (let c = 0; c < columns.length; c++) {
        const vec = vectors[c];
        const out = pending[c];
        for (let i = from; i < to; i++) out.push(vec.getItem(i));
      }
      rows += to - from;
      from = to;
      if (rows >= batchRows) {
        yield buildBatch(schema, columns, pending, rows);
        pending = columns.map(() => []);
        rows = 0;
      }
    }
  }
  if (rows > 0) yield buildBatch(schema, columns, pending, rows);
}

function buildBatch(schema: Schema, columns: readonly ArrowColumn[], values: unknown[][], length: number): RecordBatch {
  const children = columns.map((c, i) => buildColumn(schema.fields[i].type, c.type, values[i], length));
  const data = makeData({ type: new Struct(schema.fields), length, nullCount: 0, children });
  return new RecordBatch(schema, data);
}

function buildColumn(type: DataType, t: FeatureType, values: unknown[], length: number): Data {
  const fixed = fixedWidth(t, length);
  if (fixed) {
    const bitmap = new Uint8Array((length + 7) >> 3);
    let nullCount = 0;
    for (let i = 0; i < length; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        nullCount++;
        continue;
      }
      bitmap[i >> 3] |= 1 << (i & 7);
      fixed[i] = v as never;
    }
    return makeData({ type: type as never, length, nullCount, data: fixed as never, nullBitmap: nullCount ? bitmap : undefined });
  }
  const builder = makeBuilder({ type, nullValues: [null, undefined] });
  for (let i = 0; i < length; i++) builder.append(toBuilderValue(t, values[i] as DuckDBValue));
  return builder.finish().flush() as Data;
}

function fixedWidth(t: FeatureType, n: number): Int32Array | BigInt64Array | Float32Array | Float64Array | undefined {
  switch (t) {
    case 'int32': return new Int32Array(n);
    case 'int64':
    case 'timestamp': return new BigInt64Array(n);
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    default: return undefined;
  }
}

function toBuilderValue(t: FeatureType, v: DuckDBValue): unknown {
  if (v === null || v === undefined) return null;
  const elem = listElementType(t);
  if (elem) {
    const items = (v as { items: readonly DuckDBValue[] }).items;
    return items.map((x) => (elem === 'timestamp' ? (x === null ? null : Math.trunc(Number(x as bigint) / 1000)) : toBuilderValue(elem, x)));
  }
  if (t === 'bytes') return (v as { bytes: Uint8Array }).bytes;
  if (t === 'int64') return v as bigint;
  return v;
}
