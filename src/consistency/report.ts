/**
 * Aggregates classified values into the consistency report: per feature view version and per
 * feature, counts and rates per class, a few example entities per non-matching class, the
 * largest online lag, and whether the mismatch rate stays within the allowed maximum. Pure.
 */
import type { FeatureType } from '../core/feature-types.ts';
import { CONSISTENCY_CLASSES, INCONSISTENT_CLASSES, classifyValue, type ConsistencyClass, type SideRow } from './classify.ts';
import { jsonValue } from './values.ts';

export type ClassCounts = Record<ConsistencyClass, number>;

/** One sampled entity of a view version, with both sides' rows. */
export interface SampledEntity {
  /** Join key values as JSON carries them, e.g. `{ driver_id: 1001 }`. */
  key: Record<string, unknown>;
  offline: SideRow;
  online: SideRow | null;
}

export interface ViewComparison {
  /** `view@version`. */
  view: string;
  ttlMs: number;
  /** The requested features of the view version, in the order of `SideRow.values`. */
  features: readonly { name: string; ref: string; type: FeatureType }[];
  /** Entities offline has a latest row for (all of them were considered for the sample). */
  offlineEntities: number;
  sampled: readonly SampledEntity[];
}

export interface Example {
  entity: Record<string, unknown>;
  offline_event_ts: string;
  online_event_ts: string | null;
  offline_value: unknown;
  online_value: unknown;
}

export interface FeatureReport {
  /** Feature name within its view version. */
  name: string;
  /** `view@version:feature`. */
  ref: string;
  type: FeatureType;
  values: number;
  counts: ClassCounts;
  rates: Record<ConsistencyClass, number>;
  mismatch_rate: number;
  /** Up to `examplesPerClass` entities per class other than MATCH. */
  examples: Partial<Record<ConsistencyClass, Example[]>>;
}

export interface ViewReport {
  view: string;
  ttl_ms: number;
  offline_entities: number;
  sampled_entities: number;
  values: number;
  counts: ClassCounts;
  mismatch_rate: number;
  /** Largest (offline event time − online event time) over STALE_ONLINE entities, ms; 0 if none. */
  max_online_lag_ms: number;
  /** Largest (online event time − offline event time) over AHEAD_ONLINE entities, ms; 0 if none. */
  max_online_ahead_ms: number;
  features: FeatureReport[];
}

export interface ConsistencyReport {
  checked_at: string;
  sample_size: number;
  seed: number;
  max_mismatch_rate: number;
  values: number;
  counts: ClassCounts;
  /** (MISMATCH + MISSING_ONLINE + STALE_ONLINE + AHEAD_ONLINE) / values; 0 when nothing was compared. */
  mismatch_rate: number;
  /** mismatch_rate <= max_mismatch_rate. */
  passed: boolean;
  views: ViewReport[];
}

export interface ReportOptions {
  nowMs: number;
  sampleSize: number;
  seed: number;
  /** Default 0: any inconsistent value fails the check. */
  maxMismatchRate?: number;
  /** Default 3. */
  examplesPerClass?: number;
}

export function emptyCounts(): ClassCounts {
  return Object.fromEntries(CONSISTENCY_CLASSES.map((c) => [c, 0])) as ClassCounts;
}

function addCounts(into: ClassCounts, from: ClassCounts): void {
  for (const c of CONSISTENCY_CLASSES) into[c] += from[c];
}

function mismatchRate(counts: ClassCounts, values: number): number {
  if (values === 0) return 0;
  let bad = 0;
  for (const c of INCONSISTENT_CLASSES) bad += counts[c];
  return bad / values;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Classify every sampled value of every view and build the report. */
export function buildReport(views: readonly ViewComparison[], options: ReportOptions): ConsistencyReport {
  const perExample = options.examplesPerClass ?? 3;
  const maxRate = options.maxMismatchRate ?? 0;
  const total = emptyCounts();
  let totalValues = 0;
  const viewReports = views.map((vc): ViewReport => {
    const viewCounts = emptyCounts();
    let maxLag = 0;
    let maxAhead = 0;
    for (const e of vc.sampled) {
      if (e.online === null) continue;
      maxLag = Math.max(maxLag, e.offline.eventMs - e.online.eventMs);
      maxAhead = Math.max(maxAhead, e.online.eventMs - e.offline.eventMs);
    }
    const features = vc.features.map((f, fi): FeatureReport => {
      const counts = emptyCounts();
      const examples: Partial<Record<ConsistencyClass, Example[]>> = {};
      for (const e of vc.sampled) {
        const cls = classifyValue(f.type, fi, e.offline, e.online, vc.ttlMs, options.nowMs);
        counts[cls]++;
        if (cls === 'MATCH') continue;
        const list = (examples[cls] ??= []);
        if (list.length < perExample) {
          list.push({
            entity: e.key,
            offline_event_ts: iso(e.offline.eventMs),
            online_event_ts: e.online ? iso(e.online.eventMs) : null,
            offline_value: jsonValue(f.type, e.offline.values[fi]),
            online_value: e.online ? jsonValue(f.type, e.online.values[fi]) : null,
          });
        }
      }
      addCounts(viewCounts, counts);
      const n = vc.sampled.length;
      const rates = Object.fromEntries(CONSISTENCY_CLASSES.map((c) => [c, n === 0 ? 0 : counts[c] / n])) as Record<ConsistencyClass, number>;
      return { name: f.name, ref: f.ref, type: f.type, values: n, counts, rates, mismatch_rate: mismatchRate(counts, n), examples };
    });
    const values = vc.sampled.length * vc.features.length;
    addCounts(total, viewCounts);
    totalValues += values;
    return {
      view: vc.view,
      ttl_ms: vc.ttlMs,
      offline_entities: vc.offlineEntities,
      sampled_entities: vc.sampled.length,
      values,
      counts: viewCounts,
      mismatch_rate: mismatchRate(viewCounts, values),
      max_online_lag_ms: maxLag,
      max_online_ahead_ms: maxAhead,
      features,
    };
  });
  const rate = mismatchRate(total, totalValues);
  return {
    checked_at: iso(options.nowMs),
    sample_size: options.sampleSize,
    seed: options.seed,
    max_mismatch_rate: maxRate,
    values: totalValues,
    counts: total,
    mismatch_rate: rate,
    passed: rate <= maxRate,
    views: viewReports,
  };
}
