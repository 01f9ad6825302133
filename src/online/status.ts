/**
 * Read-time statuses: what serving says about each value it returns. Pure and allocation-light
 * (the caller owns the typed arrays and may reuse them across requests).
 *
 * For one view version, entity row i and requested feature f:
 * - NOT_FOUND        no row stored for the entity;
 * - NULL_VALUE       a row exists but the feature's value is null;
 * - OUTSIDE_MAX_AGE  the view has a ttl and `now - event time > ttl` (the value and its event
 *                    time are still returned, as Feast's Go/Java servers do);
 * - PRESENT          otherwise.
 * A row exactly ttl old is still PRESENT (the offline point-in-time join is inclusive too).
 * The numbers match Feast's FieldStatus enum.
 */
import { rowValueOffsets } from './row-codec.ts';

export const FieldStatus = Object.freeze({ INVALID: 0, PRESENT: 1, NULL_VALUE: 2, NOT_FOUND: 3, OUTSIDE_MAX_AGE: 4 } as const);
export type FieldStatusName = keyof typeof FieldStatus;
export type FieldStatusCode = (typeof FieldStatus)[FieldStatusName];
export const FIELD_STATUS_NAMES: readonly FieldStatusName[] = ['INVALID', 'PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'];

/**
 * Per-value results for one view version, column-major: index `f * entities + i` for requested
 * feature f (position in `featureIndices`) and entity row i.
 */
export interface ViewReadout {
  entities: number;
  features: number;
  /** FieldStatus code per value. */
  status: Uint8Array;
  /** Value bytes of each value are `rows[i].subarray(valueStart[k], valueEnd[k])` (empty = null or not found). */
  valueStart: Int32Array;
  valueEnd: Int32Array;
  /** Event time per entity row in epoch ms; NaN when NOT_FOUND. */
  eventMs: Float64Array;
}

/** Allocate a readout (reuse it for later requests of at most this size). */
export function createReadout(entities: number, features: number): ViewReadout {
  const n = entities * features;
  return {
    entities,
    features,
    status: new Uint8Array(n),
    valueStart: new Int32Array(n),
    valueEnd: new Int32Array(n),
    eventMs: new Float64Array(entities),
  };
}

// Scratch space for one row's value offsets, grown on demand (module-level: serving is single-threaded).
let offsets = new Int32Array(2 * 256);

/**
 * Fill `out` for one view version's rows.
 * @param rows `readRows` result for this view: one row (or null) per entity row.
 * @param viewFeatureCount number of features of the view version (the stored row holds all of them).
 * @param featureIndices requested features as indices into the view version's features.
 * @param ttlMs the view version's ttl; 0 = unbounded.
 * @param nowMs read time, epoch ms.
 */
export function fillStatuses(
  rows: readonly (Buffer | null)[],
  viewFeatureCount: number,
  featureIndices: readonly number[],
  ttlMs: number,
  nowMs: number,
  out: ViewReadout,
): ViewReadout {
  const n = rows.length;
  const nf = featureIndices.length;
  out.entities = n;
  out.features = nf;
  if (offsets.length < 2 * viewFeatureCount) offsets = new Int32Array(2 * viewFeatureCount);
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    if (row === null) {
      out.eventMs[i] = NaN;
      for (let f = 0; f < nf; f++) {
        const k = f * n + i;
        out.status[k] = FieldStatus.NOT_FOUND;
        out.valueStart[k] = 0;
        out.valueEnd[k] = 0;
      }
      continue;
    }
    rowValueOffsets(row, viewFeatureCount, offsets);
    const eventMs = row.readDoubleLE(1);
    out.eventMs[i] = eventMs;
    const stale = ttlMs > 0 && nowMs - eventMs > ttlMs;
    for (let f = 0; f < nf; f++) {
      const k = f * n + i;
      const idx = featureIndices[f];
      const s = offsets[2 * idx];
      const e = offsets[2 * idx + 1];
      out.valueStart[k] = s;
      out.valueEnd[k] = e;
      out.status[k] = s === e ? FieldStatus.NULL_VALUE : stale ? FieldStatus.OUTSIDE_MAX_AGE : FieldStatus.PRESENT;
    }
  }
  return out;
}

/** The status of one value, for callers that do not need the offsets (CLI, tests). */
export function valueStatus(row: Buffer | null, valueBytes: number, ttlMs: number, nowMs: number): FieldStatusName {
  if (row === null) return 'NOT_FOUND';
  if (valueBytes === 0) return 'NULL_VALUE';
  return ttlMs > 0 && nowMs - row.readDoubleLE(1) > ttlMs ? 'OUTSIDE_MAX_AGE' : 'PRESENT';
}
