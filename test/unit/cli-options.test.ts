import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { featureSelection, intOption, registryVersionOption, timeOption, timeRange } from '../../src/cli/options.ts';

describe('time flags (one parser for every command)', () => {
  // A zone west of UTC: a parser that read naive times as local would be off by hours here.
  let tz: string | undefined;
  beforeEach(() => {
    tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
  });
  afterEach(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });

  it('reads naive ISO times as UTC, whatever the machine zone', () => {
    expect(new Date(2026, 0, 2).getTimezoneOffset()).toBe(300); // the zone really is in effect
    expect(timeOption('2026-01-02', 'start')).toBe(Date.UTC(2026, 0, 2));
    expect(timeOption('2026-01-02T03:04', 'start')).toBe(Date.UTC(2026, 0, 2, 3, 4));
    expect(timeOption('2026-01-02 03:04:05.5', 'start')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 500));
  });

  it('honours offsets, epoch milliseconds and now', () => {
    expect(timeOption('2026-01-02T03:04:05+02:00', 'end')).toBe(Date.UTC(2026, 0, 2, 1, 4, 5));
    expect(timeOption('2026-01-02T03:04:05Z', 'end')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(timeOption('1767225600000', 'end')).toBe(1767225600000);
    expect(timeOption('now', 'end', { now: 42 })).toBe(42);
  });

  it('names the flag and the value at fault', () => {
    expect(() => timeOption('soon', 'start')).toThrow(/--start "soon" is not an ISO 8601 time/);
    expect(() => timeOption('2026-13-45', 'end')).toThrow(/--end "2026-13-45"/);
    expect(() => timeOption(undefined, 'end', { required: true })).toThrow(/--end is required/);
    expect(timeOption(undefined, 'end')).toBeUndefined();
  });

  it('checks that a range runs forwards', () => {
    expect(timeRange({ start: '2026-01-01', end: '2026-01-02' }, true)).toEqual({ startMs: Date.UTC(2026, 0, 1), endMs: Date.UTC(2026, 0, 2) });
    expect(() => timeRange({ start: '2026-01-02', end: '2026-01-01' }, true)).toThrow(/--start .* must be before --end/);
    expect(timeRange({}, false)).toEqual({ startMs: undefined, endMs: undefined });
    expect(() => timeRange({ end: 'now' }, true)).toThrow(/--start is required/);
  });
});

describe('other shared flags', () => {
  it('whole numbers with limits', () => {
    expect(intOption(undefined, 'rows', 7, 1)).toBe(7);
    expect(intOption('10_000_000', 'rows', 7, 1)).toBe(10_000_000);
    expect(() => intOption('0', 'rows', 7, 1)).toThrow(/--rows must be a whole number >= 1, got "0"/);
    expect(() => intOption('2.5', 'seed', 0, 0)).toThrow(/--seed/);
    expect(() => intOption('300', 'workers', 1, 1, 256)).toThrow(/from 1 to 256/);
  });

  it('registry versions', () => {
    expect(registryVersionOption(undefined)).toBeUndefined();
    expect(registryVersionOption('3')).toBe(3);
    expect(() => registryVersionOption('0')).toThrow(/--registry-version must be a positive integer, got "0"/);
  });

  it('exactly one of --features and --feature-service', () => {
    expect(featureSelection({ features: 'a:x, b:y', 'full-feature-names': true })).toEqual({ features: ['a:x', 'b:y'], fullFeatureNames: true });
    expect(featureSelection({ 'feature-service': 'svc' })).toEqual({ featureService: 'svc', fullFeatureNames: false });
    expect(() => featureSelection({})).toThrow(/exactly one of --features/);
    expect(() => featureSelection({ features: 'a:x', 'feature-service': 'svc' })).toThrow(/exactly one of --features/);
    expect(() => featureSelection({ features: ' , ' })).toThrow(/--features is empty/);
  });
});

describe('feature view arguments (push --view, materialize-offline views)', () => {
  it('view or view@N, anything else named in the error', async () => {
    const { parseViewRef } = await import('../../src/core/feature-ref.ts');
    expect(parseViewRef('rider_stats')).toEqual({ view: 'rider_stats' });
    expect(parseViewRef('rider_stats@2')).toEqual({ view: 'rider_stats', version: 2 });
    for (const bad of ['rider_stats@', 'rider_stats@x', 'rider_stats@0', "x'; drop", '']) {
      expect(() => parseViewRef(bad)).toThrow(`bad feature view "${bad}"`);
    }
  });
});
