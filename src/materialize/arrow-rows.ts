/**
 * Arrow record batches (as the OfflineReader yields them) → online writes. Column-wise: one
 * writer per column is chosen per batch (fixed-width columns read their typed arrays and
 * validity bitmaps directly into RowEncoder's unchecked fast paths; other types go through the
 * checked value encoders), then rows are encoded straight into one chunk buffer per batch.
 * The only per-row objects are the OnlineWrite records the writer port takes.
 */
import type { RecordBatch, Vector } from 'apache-arrow';
import { PitstopError, isPitstopError } from '../core/errors.ts';
import { listElementType, type FeatureType } from '../core/feature-types.ts';
import type { FeatureViewVersion } from '../core/registry-model.ts';
import { CREATED_TS_MS_COLUMN, EVENT_TS_MS_COLUMN } from '../offline/ports.ts';
import { EntityKeyEncoder } from '../online/entity-key.ts';
import type { OnlineWrite } from '../online/ports.ts';
import { RowEncoder } from '../online/row-codec.ts';

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

/** A function telling whether row i of a column is non-null, or null when the column has no nulls. */
function validity(vec: Vector): ((i: number) => boolean) | null {
  if (vec.nullCount === 0) return null;
  const data = vec.data[0];
  const bitmap = data.nullBitmap;
  if (vec.data.length !== 1 || !bitmap) return (i) => vec.isValid(i);
  const off = data.offset;
  return (i) => ((bitmap[(off + i) >> 3] >> ((off + i) & 7)) & 1) === 1;
}

/**
 * A column writer: appends row i's value of one feature to the row being encoded. Fixed-width
 * columns read their typed array straight into RowEncoder's unchecked fast paths (an Arrow
 * Float64 column can only hold float64s); other types go through the checked encoders.
 */
type Put = (i: number) => void;

function columnWriter(enc: RowEncoder, f: number, vec: Vector, type: FeatureType): Put {
  const valid = validity(vec);
  let put: Put | undefined;
  const fixed = type === 'float64' || type === 'float32' || type === 'int32' || type === 'int64';
  // toArray() of a string or list column would build every value: only fixed-width ones here.
  const a = fixed ? (vec.toArray() as ArrayLike<unknown>) : undefined;
  // Only when the column's array type matches the feature type exactly.
  if (type === 'float64' && a instanceof Float64Array) put = (i) => enc.putFloat64(a[i]);
  else if (type === 'float32' && a instanceof Float32Array) put = (i) => enc.putFloat32(a[i]);
  else if (type === 'int32' && a instanceof Int32Array) put = (i) => enc.putInt(a[i], false);
  else if (type === 'int64' && a instanceof BigInt64Array) put = (i) => enc.putBigInt64(a[i]);
  if (put) {
    const p = put;
    return valid ? (i) => (valid(i) ? p(i) : enc.putNull()) : p;
  }
  const get = accessor(vec, type);
  return (i) => enc.value(f, get(i));
}

/** Per view version: encoders reused across batches. */
export class ArrowRowConverter {
  private readonly rows: RowEncoder;
  private readonly keys: EntityKeyEncoder;
  private readonly storageId: string;
  private bytesPerRow = 0;

  constructor(private readonly view: FeatureViewVersion) {
    this.rows = new RowEncoder(view.features);
    this.keys = new EntityKeyEncoder(view.joinKeys);
    this.storageId = `${view.name}@${view.version}`;
  }

  /**
   * Encode a batch. `expireAt` is the record expiry for every row (undefined = none). Throws
   * MATERIALIZE_FAILED naming the view, batch row and column when a value does not fit its type.
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
    const featCols = view.features.map((f, k) => columnWriter(this.rows, k, column(batch, f.name, view), f.type));
    const nk = keyCols.length;
    const nf = featCols.length;
    const keyVals: unknown[] = new Array(nk);
    const out: OnlineWrite[] = new Array(n);
    // Size the chunk from the previous batch's bytes per row, so it rarely has to regrow.
    this.rows.newChunk(this.bytesPerRow > 0 ? Math.ceil(n * this.bytesPerRow * 1.1) + 4096 : undefined);
    let bytes = 0;
    let i = 0;
    let f = -1;
    try {
      for (; i < n; i++) {
        f = -1;
        for (let k = 0; k < nk; k++) keyVals[k] = keyCols[k](i);
        const entity = this.keys.encode(keyVals);
        if (!ev.isValid(i)) throw new PitstopError('VALUE_TYPE_MISMATCH', `${EVENT_TS_MS_COLUMN}: event timestamp is missing`);
        const created = crNulls && !cr.isValid(i) ? null : Number(crArr[i]);
        this.rows.begin(Number(evArr[i]), created);
        for (f = 0; f < nf; f++) featCols[f](i);
        const row = this.rows.end();
        bytes += row.length;
        out[i] = { view: this.storageId, entity, row, expireAtMs: expireAt };
      }
      if (n > 0) this.bytesPerRow = bytes / n;
    } catch (e) {
      this.rows.abort();
      const where = f >= 0 ? `feature "${view.features[f].name}"` : 'join keys / timestamps';
      const msg = isPitstopError(e) ? e.message : String(e);
      throw new PitstopError('MATERIALIZE_FAILED', `${view.name}@${view.version}: offline row ${i} of a batch, ${where}: ${msg}`, { cause: e });
    }
    return out;
  }
}
