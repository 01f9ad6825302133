/**
 * The transport-agnostic answer of `getOnlineFeatures`: flat typed arrays over the stored rows,
 * no object per value. Each transport encodes it its own way (gRPC splices the stored Value bytes
 * into protobuf; HTTP decodes them to JSON).
 */
import type { RequestPlan } from './plan.ts';

import { FieldStatus, FIELD_STATUS_NAMES } from '../online/status.ts';

/** FieldStatus numbers (as in the proto), from the online layer's status rules. */
export const STATUS = FieldStatus;
export const STATUS_NAMES = FIELD_STATUS_NAMES;

export interface OnlineFeaturesResult {
  plan: RequestPlan;
  registryVersion: number;
  /** Entity rows in the request. */
  entityCount: number;
  /** `rows[v][i]`: stored row of plan view v for entity row i, or null. */
  rows: readonly (Buffer | null)[][];
  /**
   * For feature f and entity row i, at `k = f * entityCount + i`: the encoded Value's bytes are
   * `rows[featureView[f]][i].subarray(valueStart[k], valueEnd[k])` (empty = null / not found).
   */
  valueStart: Int32Array;
  valueEnd: Int32Array;
  /** FieldStatus per value, at `f * entityCount + i`. */
  statuses: Uint8Array;
  /** Event time in epoch ms per (view, entity row), at `v * entityCount + i`; 0 when not found. */
  eventTsMs: Float64Array;
}
