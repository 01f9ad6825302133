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

/**
 * How an answer carries event timestamps (the numbers of the proto's `EventTimestamps`): a list
 * per feature (Feast's shape), a list per feature view that later vectors of the view point to,
 * or none.
 */
export const EVENT_TIMESTAMPS = { PER_FEATURE: 0, PER_VIEW: 1, NONE: 2 } as const;
export type EventTimestampsMode = (typeof EVENT_TIMESTAMPS)[keyof typeof EVENT_TIMESTAMPS];
/** Names of the modes as HTTP/JSON takes them, by number (kept with the proto, where the client reads them). */
export { EVENT_TIMESTAMPS_NAMES } from './proto.ts';

export interface OnlineFeaturesResult {
  plan: RequestPlan;
  /** As the request asked (default PER_FEATURE). */
  eventTimestamps: EventTimestampsMode;
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
