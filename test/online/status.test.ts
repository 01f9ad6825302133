import { describe, expect, it } from 'vitest';
import { FieldStatus, createReadout, fillStatuses, valueStatus } from '../../src/online/status.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { decodeValue } from '../../src/online/value-codec.ts';

const enc = new RowEncoder([
  { name: 'a', type: 'int64' },
  { name: 'b', type: 'string' },
  { name: 'c', type: 'float64' },
]);
const HOUR = 3_600_000;

describe('read-time statuses', () => {
  it('gives PRESENT, NULL_VALUE, NOT_FOUND and OUTSIDE_MAX_AGE, with values and event times', () => {
    const now = 10 * HOUR;
    const fresh = Buffer.from(enc.encode(now - HOUR, null, [1n, null, 2.5]));
    const old = Buffer.from(enc.encode(now - 3 * HOUR, null, [2n, 'x', null]));
    const boundary = Buffer.from(enc.encode(now - 2 * HOUR, null, [3n, 'y', 1]));
    const rows = [fresh, null, old, boundary];
    const out = fillStatuses(rows, 3, [2, 0, 1], 2 * HOUR, now, createReadout(4, 3));
    const names = (f: number) => Array.from(out.status.subarray(f * 4, f * 4 + 4));
    // feature c (index 2)
    expect(names(0)).toEqual([FieldStatus.PRESENT, FieldStatus.NOT_FOUND, FieldStatus.NULL_VALUE, FieldStatus.PRESENT]);
    // feature a: old row is beyond ttl, still returned
    expect(names(1)).toEqual([FieldStatus.PRESENT, FieldStatus.NOT_FOUND, FieldStatus.OUTSIDE_MAX_AGE, FieldStatus.PRESENT]);
    expect(names(2)).toEqual([FieldStatus.NULL_VALUE, FieldStatus.NOT_FOUND, FieldStatus.OUTSIDE_MAX_AGE, FieldStatus.PRESENT]);
    const k = 1 * 4 + 2; // feature a, entity 2
    expect(decodeValue(old.subarray(out.valueStart[k], out.valueEnd[k]))).toBe(2n);
    expect(Array.from(out.eventMs)).toEqual([now - HOUR, NaN, now - 3 * HOUR, now - 2 * HOUR]);
  });

  it('ttl 0 never goes stale; readouts are reusable', () => {
    const ancient = Buffer.from(enc.encode(0, null, [1n, 'a', 1]));
    const out = createReadout(2, 1);
    fillStatuses([ancient, ancient], 3, [0], 0, 1e13, out);
    expect(Array.from(out.status.subarray(0, 2))).toEqual([FieldStatus.PRESENT, FieldStatus.PRESENT]);
    fillStatuses([null], 3, [0], 0, 1e13, out);
    expect(out.status[0]).toBe(FieldStatus.NOT_FOUND);
    expect(valueStatus(ancient, 2, HOUR, 2 * HOUR)).toBe('OUTSIDE_MAX_AGE');
    expect(valueStatus(ancient, 0, HOUR, 2 * HOUR)).toBe('NULL_VALUE');
    expect(valueStatus(null, 0, HOUR, 0)).toBe('NOT_FOUND');
  });
});
