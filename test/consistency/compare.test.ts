/**
 * The pure comparison of the consistency check: canonical values, equality by type (float32 at
 * float32 precision, lists element-wise, nulls), classification order and report arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { classifyValue, type SideRow } from '../../src/consistency/classify.ts';
import { buildReport, type SampledEntity } from '../../src/consistency/report.ts';
import { hash53 } from '../../src/consistency/sample.ts';
import { canonical, jsonValue, sameValue } from '../../src/consistency/values.ts';
import type { FeatureType } from '../../src/core/feature-types.ts';
import { encodeValue, decodeValue } from '../../src/online/value-codec.ts';

const same = (t: FeatureType, a: unknown, b: unknown) => sameValue(t, canonical(t, a), canonical(t, b));

describe('sameValue', () => {
  it('compares float32 at float32 precision, float64 exactly', () => {
    expect(same('float32', 0.1, Math.fround(0.1))).toBe(true);
    expect(same('float32', 0.1, 0.1 + 1e-10)).toBe(true); // same float32
    expect(same('float32', 1, 1 + 2 ** -22)).toBe(false); // one float32 ulp at 1 is 2^-23; 2^-22 is two
    expect(same('float32', 1, 1 + 2 ** -25)).toBe(true); // rounds to 1 in float32
    expect(same('float64', 0.1, Math.fround(0.1))).toBe(false);
    expect(same('float64', 0.1, 0.1)).toBe(true);
    expect(same('float64', NaN, NaN)).toBe(true);
    expect(same('float32', NaN, 1)).toBe(false);
    expect(same('float64', 0, -0)).toBe(true);
  });

  it('compares integers, strings, bools, bytes and timestamps exactly, across representations', () => {
    expect(same('int64', 5, 5n)).toBe(true);
    expect(same('int64', 2n ** 62n, 2n ** 62n + 1n)).toBe(false);
    expect(same('int32', 7, 8)).toBe(false);
    expect(same('string', 'a', 'a')).toBe(true);
    expect(same('string', 'a', 'A')).toBe(false);
    expect(same('bool', true, false)).toBe(false);
    expect(same('bytes', new Uint8Array([1, 2]), Buffer.from([1, 2]))).toBe(true);
    expect(same('bytes', Buffer.from([1, 2]), Buffer.from([1, 3]))).toBe(false);
    // Arrow hands timestamps over as fractional ms; the online codec stores whole ms (floor).
    expect(same('timestamp', 1700000000123.456, 1700000000123)).toBe(true);
    expect(same('timestamp', 1700000000123, 1700000000124)).toBe(false);
  });

  it('compares lists element-wise, with their element type', () => {
    expect(same('list<float32>', new Float32Array([0.1, 0.2]), [0.1, 0.2])).toBe(true);
    expect(same('list<float32>', [0.1, 0.2], [0.1, 0.3])).toBe(false);
    expect(same('list<float32>', [0.1], [0.1, 0.2])).toBe(false);
    expect(same('list<int64>', new BigInt64Array([1n, 2n]), [1, 2])).toBe(true);
    expect(same('list<string>', ['a', null], ['a', null])).toBe(true);
    expect(same('list<string>', ['a', null], ['a', 'b'])).toBe(false);
    expect(same('list<float64>', [], [])).toBe(true);
  });

  it('treats null as equal only to null (an empty list is not null)', () => {
    expect(same('int64', null, null)).toBe(true);
    expect(same('int64', null, 0)).toBe(false);
    expect(same('string', '', null)).toBe(false);
    expect(same('list<int32>', [], null)).toBe(false);
    expect(same('float32', undefined, null)).toBe(true);
  });

  it('agrees with the online value codec round trip', () => {
    const cases: [FeatureType, unknown][] = [
      ['float32', 0.1], ['int64', 2n ** 60n], ['timestamp', 1700000000123], ['list<float32>', [0.1, 0.7]],
      ['bytes', Buffer.from('hi')], ['list<timestamp>', [1, 2]], ['bool', false], ['string', 'ü'],
    ];
    for (const [t, v] of cases) expect(same(t, v, decodeValue(encodeValue(t, v))), t).toBe(true);
  });

  it('prints JSON-friendly values', () => {
    expect(jsonValue('int64', canonical('int64', 2n ** 62n))).toBe('4611686018427387904');
    expect(jsonValue('int64', canonical('int64', 3))).toBe(3);
    expect(jsonValue('timestamp', canonical('timestamp', 0))).toBe('1970-01-01T00:00:00.000Z');
    expect(jsonValue('bytes', canonical('bytes', Buffer.from('hi')))).toBe('aGk=');
    expect(jsonValue('list<float64>', canonical('list<float64>', [NaN, 1]))).toEqual(['NaN', 1]);
  });
});

const H = 3_600_000;
const NOW = Date.parse('2024-01-01T12:00:00Z');
const row = (eventMs: number, ...values: unknown[]): SideRow => ({ eventMs, createdMs: null, values: values.map((v) => canonical('int64', v)) });

describe('classifyValue', () => {
  const off = row(NOW - H, 5);
  it('names each class, in order of precedence', () => {
    expect(classifyValue('int64', 0, off, row(NOW - H, 5), 0, NOW)).toBe('MATCH');
    expect(classifyValue('int64', 0, off, row(NOW - H, 6), 0, NOW)).toBe('MISMATCH');
    expect(classifyValue('int64', 0, off, null, 0, NOW)).toBe('MISSING_ONLINE');
    expect(classifyValue('int64', 0, off, row(NOW - 2 * H, 5), 0, NOW)).toBe('STALE_ONLINE');
    expect(classifyValue('int64', 0, off, row(NOW - H + 1, 5), 0, NOW)).toBe('AHEAD_ONLINE');
    // ttl 30 min: the same row is served OUTSIDE_MAX_AGE.
    expect(classifyValue('int64', 0, off, row(NOW - H, 5), H / 2, NOW)).toBe('EXPIRED');
    // Differing values beat expiry (a wrong value is worse than an old one).
    expect(classifyValue('int64', 0, off, row(NOW - H, 6), H / 2, NOW)).toBe('MISMATCH');
    // Stale beats expired: the online row is older than offline's latest.
    expect(classifyValue('int64', 0, off, row(NOW - 3 * H, 5), H / 2, NOW)).toBe('STALE_ONLINE');
  });

  it('no online row is EXPIRED, not missing, when offline itself is past the ttl', () => {
    expect(classifyValue('int64', 0, off, null, H / 2, NOW)).toBe('EXPIRED');
    expect(classifyValue('int64', 0, off, null, 2 * H, NOW)).toBe('MISSING_ONLINE');
    // Exactly ttl old is still fresh (serving and the PIT join are inclusive).
    expect(classifyValue('int64', 0, off, null, H, NOW)).toBe('MISSING_ONLINE');
    expect(classifyValue('int64', 0, off, row(NOW - H, 5), H, NOW)).toBe('MATCH');
  });

  it('a null value matches a null value even past the ttl (served NULL_VALUE, not OUTSIDE_MAX_AGE)', () => {
    expect(classifyValue('int64', 0, row(NOW - H, null), row(NOW - H, null), H / 2, NOW)).toBe('MATCH');
    expect(classifyValue('int64', 0, row(NOW - H, null), row(NOW - H, 1), 0, NOW)).toBe('MISMATCH');
  });
});

describe('buildReport', () => {
  const entity = (id: number, off: SideRow, on: SideRow | null): SampledEntity => ({ key: { id }, offline: off, online: on });
  const sampled = [
    entity(1, row(NOW - H, 1, 10), row(NOW - H, 1, 10)),
    entity(2, row(NOW - H, 2, 20), row(NOW - H, 2, 21)),
    entity(3, row(NOW - H, 3, 30), null),
    entity(4, row(NOW - H, 4, 40), row(NOW - 3 * H, 4, 40)),
    entity(5, row(NOW - H, 5, 50), row(NOW - H / 2, 5, 50)),
  ];
  const features = [{ name: 'a', ref: 'v@1:a', type: 'int64' as const }, { name: 'b', ref: 'v@1:b', type: 'int64' as const }];

  it('counts per feature and per view, rates, lag, examples, pass/fail', () => {
    const r = buildReport([{ view: 'v@1', ttlMs: 0, features, offlineEntities: 9, sampled }], { nowMs: NOW, sampleSize: 5, seed: 1, examplesPerClass: 1 });
    const [v] = r.views;
    expect(v.features[0].counts).toEqual({ MATCH: 2, MISMATCH: 0, MISSING_ONLINE: 1, STALE_ONLINE: 1, AHEAD_ONLINE: 1, EXPIRED: 0 });
    expect(v.features[1].counts).toEqual({ MATCH: 1, MISMATCH: 1, MISSING_ONLINE: 1, STALE_ONLINE: 1, AHEAD_ONLINE: 1, EXPIRED: 0 });
    expect(v.features[1].rates.MISMATCH).toBeCloseTo(0.2);
    expect(v.features[1].examples.MISMATCH).toEqual([{
      entity: { id: 2 }, offline_event_ts: new Date(NOW - H).toISOString(), online_event_ts: new Date(NOW - H).toISOString(), offline_value: 20, online_value: 21,
    }]);
    expect(v.features[0].examples.MATCH).toBeUndefined();
    expect(v.counts.MATCH).toBe(3);
    expect(v.values).toBe(10);
    expect(v.mismatch_rate).toBeCloseTo(7 / 10);
    expect(v.max_online_lag_ms).toBe(2 * H);
    expect(v.max_online_ahead_ms).toBe(H / 2);
    expect(v.offline_entities).toBe(9);
    expect(r.passed).toBe(false);
    expect(buildReport([{ view: 'v@1', ttlMs: 0, features, offlineEntities: 9, sampled }], { nowMs: NOW, sampleSize: 5, seed: 1, maxMismatchRate: 0.7 }).passed).toBe(true);
  });

  it('an empty comparison passes with rate 0', () => {
    const r = buildReport([{ view: 'v@1', ttlMs: 0, features, offlineEntities: 0, sampled: [] }], { nowMs: NOW, sampleSize: 5, seed: 0 });
    expect(r.mismatch_rate).toBe(0);
    expect(r.passed).toBe(true);
  });
});

describe('hash53', () => {
  it('depends on the seed and the bytes, and spreads', () => {
    const k = Buffer.from([1, 0, 0, 0, 7]);
    expect(hash53(k, 1)).toBe(hash53(Buffer.from(k), 1));
    expect(hash53(k, 1)).not.toBe(hash53(k, 2));
    const below = Array.from({ length: 2000 }, (_, i) => hash53(Buffer.from(`k${i}`), 0)).filter((h) => h < 2 ** 52).length;
    expect(below).toBeGreaterThan(900);
    expect(below).toBeLessThan(1100);
  });
});
