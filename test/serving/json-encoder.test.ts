/**
 * The direct JSON writer against the obvious implementation it replaced (an object tree of
 * `jsonFriendly(decodeValue(...))` values through JSON.stringify), byte for byte, over every
 * feature type with edge values (unsafe int64s, negative ints, non-finite floats, float32
 * rounding, timestamps before 1970, unicode and escapes, empty lists), nulls, all statuses and
 * features of several views interleaved (the event-time arrays are copied per view).
 */
import { describe, expect, it } from 'vitest';
import { SCALAR_TYPES, type FeatureType, type ScalarType } from '../../src/core/feature-types.ts';
import { jsonFriendly } from '../../src/online/lookup.ts';
import { decodeValue, encodeValue } from '../../src/online/value-codec.ts';
import { encodeJsonResponse } from '../../src/serving/json-encoder.ts';
import { compileSnapshot } from '../../src/serving/plan.ts';
import { EVENT_TIMESTAMPS, type EventTimestampsMode, type OnlineFeaturesResult } from '../../src/serving/result.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { referenceJson } from '../support/json-reference.ts';

const EDGES: Record<ScalarType, unknown[]> = {
  int64: [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 49 - 1, 2 ** 49, 2 ** 53 - 1, 2n ** 53n + 1n, -1, -(2 ** 31), -(2n ** 63n), 2n ** 63n - 1n],
  int32: [0, 1, 300, 2 ** 31 - 1, -1, -(2 ** 31)],
  float64: [0, -0, 1.5, 0.1, -1e300, 5e-324, 1e21, 123456789012345680000, NaN, Infinity, -Infinity],
  float32: [0, 0.1, -2.5, 3.4e38, 1e-45, NaN, Infinity],
  bool: [true, false],
  string: ['', 'plain', 'héllo wörld', '"quoted" \\ back', 'tab\tnew\nline', '\u2028\u2029', '😀 emoji', '\u0000\u001f', 'a'.repeat(300)],
  bytes: [Buffer.alloc(0), Buffer.from([0, 255, 1]), Buffer.from('pitstop')],
  timestamp: [0, 1_700_000_000_123, -1000, 2 ** 49 + 5, 253402300799999],
};

/** A deterministic PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

function randomValue(type: FeatureType, rand: () => number): unknown {
  const pick = (t: ScalarType) => EDGES[t][Math.floor(rand() * EDGES[t].length)];
  if (type.startsWith('list<')) {
    const elem = type.slice(5, -1) as ScalarType;
    return Array.from({ length: Math.floor(rand() * 4) }, () => pick(elem));
  }
  if (rand() < 0.5) return pick(type as ScalarType);
  switch (type as ScalarType) {
    case 'int64': return Math.floor(rand() * 2 ** 45);
    case 'int32': return Math.floor(rand() * 2 ** 31) - 2 ** 30;
    case 'float64': return (rand() - 0.5) * 1e6;
    case 'float32': return Math.fround(rand() * 100);
    case 'timestamp': return 1_600_000_000_000 + Math.floor(rand() * 1e11);
    default: return pick(type as ScalarType);
  }
}

const TYPES: FeatureType[] = [...SCALAR_TYPES, ...SCALAR_TYPES.map((t) => `list<${t}>` as FeatureType)];

describe('JSON response writer', () => {
  // Three views, every type in each, requested interleaved so features of a view are not adjacent.
  const viewNames = ['alpha', 'beta', 'gamma'];
  const snapshot = buildSnapshot({
    version: 7,
    views: viewNames.map((name) => ({
      name,
      entities: { driver: { driver_id: 'int64' as const } },
      source: { path: `data/${name}.parquet` },
      features: Object.fromEntries(TYPES.map((t) => [`${name}_${t.replace(/[<>]/g, '_')}`, t])),
    })),
  });
  const refs = TYPES.flatMap((t) => viewNames.map((v) => `${v}:${v}_${t.replace(/[<>]/g, '_')}`));
  const plan = compileSnapshot(snapshot).plan({ features: refs }, false);

  function randomResult(n: number, rand: () => number, eventTimestamps: EventTimestampsMode = EVENT_TIMESTAMPS.PER_FEATURE): OnlineFeaturesResult {
    const nf = plan.featureNames.length;
    const chunks: Buffer[] = [];
    let at = 0;
    const valueStart = new Int32Array(nf * n);
    const valueEnd = new Int32Array(nf * n);
    const statuses = new Uint8Array(nf * n);
    for (let f = 0; f < nf; f++) {
      for (let i = 0; i < n; i++) {
        const k = f * n + i;
        statuses[k] = 1 + Math.floor(rand() * 4);
        if (rand() < 0.2) {
          valueStart[k] = valueEnd[k] = at;
          continue;
        }
        const bytes = encodeValue(plan.featureTypes[f], randomValue(plan.featureTypes[f], rand));
        chunks.push(bytes);
        valueStart[k] = at;
        at += bytes.length;
        valueEnd[k] = at;
      }
    }
    const eventTsMs = Float64Array.from({ length: plan.views.length * n }, () => (rand() < 0.3 ? 0 : 1_700_000_000_000 + Math.floor(rand() * 1e10)));
    return { plan, eventTimestamps, registryVersion: 7, entityCount: n, data: Buffer.concat(chunks), valueStart, valueEnd, statuses, eventTsMs };
  }

  it('writes exactly what JSON.stringify of the decoded values gives, for every type and edge value', () => {
    const rand = rng(20261206);
    for (const n of [0, 1, 2, 5, 40]) {
      for (let round = 0; round < 30; round++) {
        const r = randomResult(n, rand, (round % 3) as EventTimestampsMode);
        const got = encodeJsonResponse(r);
        expect(got.toString('utf8')).toBe(referenceJson(r));
        // Exact UTF-8 too (an answer is sent as these bytes with their length).
        expect(got.equals(Buffer.from(referenceJson(r), 'utf8'))).toBe(true);
      }
    }
  });

  it('carries the same event times per feature, per view (later features name the first of their view) and not at all', () => {
    expect(new Set(plan.featureView).size).toBeGreaterThan(1);
    const r = randomResult(5, rng(7));
    const json = (mode: EventTimestampsMode) => JSON.parse(encodeJsonResponse({ ...r, eventTimestamps: mode }).toString('utf8'));
    const perFeature = json(EVENT_TIMESTAMPS.PER_FEATURE);
    const perView = json(EVENT_TIMESTAMPS.PER_VIEW);
    const none = json(EVENT_TIMESTAMPS.NONE);
    let pointers = 0;
    perView.results.forEach((vec: { event_timestamps_ms?: number[]; event_timestamps_from?: number; values: unknown[] }, f: number) => {
      expect(vec.values).toEqual(perFeature.results[f].values);
      if (vec.event_timestamps_from !== undefined) {
        pointers++;
        expect(vec.event_timestamps_ms).toBeUndefined();
        expect(vec.event_timestamps_from).toBeLessThan(f);
        expect(plan.featureView[vec.event_timestamps_from]).toBe(plan.featureView[f]);
        expect(perView.results[vec.event_timestamps_from].event_timestamps_ms).toEqual(perFeature.results[f].event_timestamps_ms);
      } else expect(vec.event_timestamps_ms).toEqual(perFeature.results[f].event_timestamps_ms);
    });
    // Every view's features but its first point back.
    expect(pointers).toBe(plan.featureNames.length - plan.views.length);
    for (const [f, vec] of none.results.entries()) {
      expect(Object.keys(vec)).toEqual(['values', 'statuses']);
      expect(vec.statuses).toEqual(perFeature.results[f].statuses);
    }
  });

  it('covers each edge value of each type on its own', () => {
    for (const type of TYPES) {
      const elem = (type.startsWith('list<') ? type.slice(5, -1) : type) as ScalarType;
      for (const edge of EDGES[elem]) {
        const value = type === elem ? edge : [edge, edge];
        const f = plan.featureTypes.indexOf(type);
        const bytes = encodeValue(type, value);
        const r = randomResult(1, rng(1));
        const data = Buffer.concat([r.data, bytes]);
        r.valueStart[f] = r.data.length;
        r.valueEnd[f] = data.length;
        const withEdge = { ...r, data };
        const parsed = JSON.parse(encodeJsonResponse(withEdge).toString('utf8'));
        expect(encodeJsonResponse(withEdge).toString('utf8'), `${type} ${String(edge)}`).toBe(referenceJson(withEdge));
        expect(parsed.results[f].values[0]).toEqual(JSON.parse(JSON.stringify(jsonFriendly(type, decodeValue(bytes)))));
      }
    }
  });

  it('reads stored bytes the fast paths do not expect as the general decoder does', () => {
    // Valid Value messages no encoder of ours writes: a 5-byte int32 varint of 2^31 (int32 wraps
    // it), a bool of 2, a repeated field (the last wins), a redundant zero-padded varint.
    const odd: [FeatureType, number[]][] = [
      ['int32', [0x18, 0x80, 0x80, 0x80, 0x80, 0x08]],
      ['bool', [0x38, 0x02]],
      ['int64', [0x20, 0x05, 0x20, 0x07]],
      ['int64', [0x20, 0x85, 0x80, 0x00]],
      ['float64', [0x29, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x29, 0, 0, 0, 0, 0, 0, 0, 0x40]],
      ['timestamp', [0x40, 0x01, 0x40, 0x02]],
    ];
    for (const [type, raw] of odd) {
      const f = plan.featureTypes.indexOf(type);
      const r = randomResult(1, rng(2));
      const data = Buffer.concat([r.data, Buffer.from(raw)]);
      r.valueStart[f] = r.data.length;
      r.valueEnd[f] = data.length;
      const withOdd = { ...r, data };
      expect(encodeJsonResponse(withOdd).toString('utf8'), `${type} ${raw}`).toBe(referenceJson(withOdd));
    }
    // Truncated bytes (a varint whose last byte says more follows) fail as corrupt, never as a number.
    for (const [type, raw] of [['int64', [0x20, 0x85, 0x81]], ['timestamp', [0x40, 0xff]]] as [FeatureType, number[]][]) {
      const f = plan.featureTypes.indexOf(type);
      const r = randomResult(1, rng(2));
      const data = Buffer.concat([r.data, Buffer.from(raw)]);
      r.valueStart[f] = r.data.length;
      r.valueEnd[f] = data.length;
      expect(() => encodeJsonResponse({ ...r, data }), `${type} ${raw}`).toThrow(/malformed Value bytes/);
    }
  });

  it('gives each answer a buffer of its own (the scratch is reused)', () => {
    const rand = rng(7);
    const a = randomResult(3, rand);
    const first = encodeJsonResponse(a);
    const copy = Buffer.from(first);
    encodeJsonResponse(randomResult(40, rand));
    expect(first.equals(copy)).toBe(true);
  });

  it('follows a registry version change on the same plan', () => {
    const r = randomResult(1, rng(3));
    expect(JSON.parse(encodeJsonResponse(r).toString()).metadata.registry_version).toBe(7);
    expect(JSON.parse(encodeJsonResponse({ ...r, registryVersion: 8 }).toString()).metadata.registry_version).toBe(8);
  });
});
