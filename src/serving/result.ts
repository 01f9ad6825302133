/**
 * The transport-agnostic answer of `getOnlineFeatures`: flat typed arrays over one buffer holding
 * the stored rows, no object per value or per row. Each transport encodes it its own way (gRPC splices the stored Value bytes
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
  /** The bytes every stored row of the read is in (`OnlineReader.readSpans`). */
  data: Buffer;
  /**
   * For feature f and entity row i, at `k = f * entityCount + i`: the encoded Value's bytes are
   * `data[valueStart[k] .. valueEnd[k])` (empty = null / not found).
   */
  valueStart: Int32Array;
  valueEnd: Int32Array;
  /** FieldStatus per value, at `f * entityCount + i`. */
  statuses: Uint8Array;
  /** Event time in epoch ms per (view, entity row), at `v * entityCount + i`; 0 when not found. */
  eventTsMs: Float64Array;
}
