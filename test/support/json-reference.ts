/**
 * The HTTP answer of a lookup as the server rendered it before the direct JSON writer: an object
 * tree of `jsonFriendly(decodeValue(...))` values through JSON.stringify. The obvious rendering,
 * kept as the oracle the writer is tested against (test/serving/json-encoder.test.ts) and the
 * baseline it is measured against (bench/serving/micro.ts).
 */
import { jsonFriendly } from '../../src/online/lookup.ts';
import { decodeValue } from '../../src/online/value-codec.ts';
import { EVENT_TIMESTAMPS, STATUS_NAMES, type OnlineFeaturesResult } from '../../src/serving/result.ts';

export function referenceJson(r: OnlineFeaturesResult): string {
  const { plan, entityCount: n } = r;
  const results = plan.featureNames.map((_, f) => {
    const v = plan.featureView[f];
    const type = plan.featureTypes[f];
    const values = [];
    const statuses = [];
    const ts = [];
    for (let i = 0; i < n; i++) {
      const k = f * n + i;
      values.push(r.valueEnd[k] > r.valueStart[k] ? jsonFriendly(type, decodeValue(r.data, r.valueStart[k], r.valueEnd[k])) : null);
      statuses.push(STATUS_NAMES[r.statuses[k]]);
      ts.push(r.eventTsMs[v * n + i]);
    }
    // The event-timestamps mode: a list per feature, per view (later vectors of a view name the
    // first), or none.
    if (r.eventTimestamps === EVENT_TIMESTAMPS.NONE) return { values, statuses };
    const first = plan.views[v].features[0];
    if (r.eventTimestamps === EVENT_TIMESTAMPS.PER_VIEW && first !== f) return { values, statuses, event_timestamps_from: first };
    return { values, statuses, event_timestamps_ms: ts };
  });
  return JSON.stringify({ metadata: { feature_names: plan.featureNames, registry_version: r.registryVersion }, results });
}
