import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.ts';
import { parseFeatureRef, tryParseFeatureRef } from '../../src/core/feature-ref.ts';

describe('durations', () => {
  it.each([
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['10d', 864_000_000],
    ['90', 90_000],
    ['0', 0],
    ['250ms', 250],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'h', '2x', '-1h', '1.5h', '2h ago'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());

  it('formats back', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0');
  });
});

describe('feature references', () => {
  it('parses latest and pinned references', () => {
    expect(parseFeatureRef('rider_stats:trips_today')).toEqual({ view: 'rider_stats', feature: 'trips_today' });
    expect(parseFeatureRef('rider_stats@2:avg_fare')).toEqual({ view: 'rider_stats', version: 2, feature: 'avg_fare' });
  });
  it.each(['rider_stats', 'a:b:c', 'v@0:f', "x';drop:f", 'v@:f', ':f'])('rejects %j', (t) => {
    expect(tryParseFeatureRef(t)).toBeUndefined();
    expect(() => parseFeatureRef(t)).toThrow(/bad feature reference/);
  });
});
