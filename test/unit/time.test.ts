import { describe, expect, it } from 'vitest';
import { parseInstant } from '../../src/core/time.ts';

describe('parseInstant', () => {
  it.each([
    ['2024-01-31', Date.UTC(2024, 0, 31)],
    ['2024-01-31T12:00', Date.UTC(2024, 0, 31, 12)],
    ['2024-01-31 12:00:05', Date.UTC(2024, 0, 31, 12, 0, 5)],
    ['2024-01-31T12:00:05.123456', Date.UTC(2024, 0, 31, 12, 0, 5, 123)],
    ['2024-01-31T12:00:00Z', Date.UTC(2024, 0, 31, 12)],
    ['2024-01-31T12:00:00+02:00', Date.UTC(2024, 0, 31, 10)],
    ['2024-01-31T12:00:00-0530', Date.UTC(2024, 0, 31, 17, 30)],
    ['2024-01-31T12:00:00+02', Date.UTC(2024, 0, 31, 10)],
  ])('%s', (text, ms) => expect(parseInstant(text)).toBe(ms));

  it('reads naive times as UTC whatever the process time zone', () => {
    // Date.parse would read this naive time in the local zone; parseInstant must not.
    expect(parseInstant('2021-09-17T01:15:30')).toBe(Date.UTC(2021, 8, 17, 1, 15, 30));
  });

  it.each(['', 'yesterday', '2024-13-01', '2024-01-31T25:00', '31/01/2024', '1700000000'])('rejects %j', (text) => {
    expect(parseInstant(text)).toBeUndefined();
  });
});
