/**
 * The comparison at the heart of `pitstop consistency`: for one sampled entity of one feature
 * view version, what offline says is the latest row (what materialization should have written)
 * against the row the online store serves now, classified per feature value. Pure: no I/O.
 *
 * Classes, decided in this order (the first that applies wins, so each value gets one class and
 * the most actionable cause is named):
 * 1. no online row:        EXPIRED when offline's latest row is itself older than the ttl (the
 *                          online record expiring is then expected), else MISSING_ONLINE;
 * 2. online event time < offline's: STALE_ONLINE (materialization lags the offline data);
 * 3. online event time > offline's: AHEAD_ONLINE (rows pushed online that the offline log lacks);
 * 4. same event time, different value: MISMATCH;
 * 5. same value, but older than the ttl at check time (served as OUTSIDE_MAX_AGE): EXPIRED;
 * 6. otherwise MATCH (a null on both sides is a match).
 */
import type { FeatureType } from '../core/feature-types.ts';
import { sameValue, type CanonicalValue } from './values.ts';

export const CONSISTENCY_CLASSES = ['MATCH', 'MISMATCH', 'MISSING_ONLINE', 'STALE_ONLINE', 'AHEAD_ONLINE', 'EXPIRED'] as const;
export type ConsistencyClass = (typeof CONSISTENCY_CLASSES)[number];

/**
 * The classes that count towards the mismatch rate: online serves something other than what
 * offline (and so training) would say. EXPIRED does not count: past the ttl, serving marks the
 * value OUTSIDE_MAX_AGE and point-in-time retrieval at the same instant returns null, so both
 * sides agree there is no fresh value.
 */
export const INCONSISTENT_CLASSES: ReadonlySet<ConsistencyClass> = new Set(['MISMATCH', 'MISSING_ONLINE', 'STALE_ONLINE', 'AHEAD_ONLINE']);

/** One side's row for an entity: its event and created time and the requested features' values (canonical). */
export interface SideRow {
  eventMs: number;
  createdMs: number | null;
  values: CanonicalValue[];
}

/** Whether a row with this event time is past the ttl at `nowMs` (exactly ttl old is still fresh, as serving has it). */
export function pastTtl(eventMs: number, ttlMs: number, nowMs: number): boolean {
  return ttlMs > 0 && nowMs - eventMs > ttlMs;
}

/**
 * The class of requested feature `f` (its position in `values`) of type `type`.
 * @param offline offline's latest row for the entity (sampled from offline, so always present).
 * @param online the row the online store holds, or null when it has none.
 */
export function classifyValue(type: FeatureType, f: number, offline: SideRow, online: SideRow | null, ttlMs: number, nowMs: number): ConsistencyClass {
  if (online === null) return pastTtl(offline.eventMs, ttlMs, nowMs) ? 'EXPIRED' : 'MISSING_ONLINE';
  if (online.eventMs < offline.eventMs) return 'STALE_ONLINE';
  if (online.eventMs > offline.eventMs) return 'AHEAD_ONLINE';
  const v = online.values[f];
  if (!sameValue(type, offline.values[f], v)) return 'MISMATCH';
  // A null online value is served as NULL_VALUE whatever its age, so only non-null ones expire.
  if (v !== null && pastTtl(online.eventMs, ttlMs, nowMs)) return 'EXPIRED';
  return 'MATCH';
}
