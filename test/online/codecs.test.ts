/**
 * Value, row and entity-key codecs. Value bytes are checked against protobufjs loading the real
 * proto (a differential test): what we write, protobufjs reads, and the other way round.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import protobuf from 'protobufjs';
import path from 'node:path';
import { decodeValue, encodeValue } from '../../src/online/value-codec.ts';
import { RowEncoder, decodeRow, rowCreatedMs, rowEventMs, rowValue, rowValueOffsets, ROW_HEADER_BYTES } from '../../src/online/row-codec.ts';
import { BadEntityRow, EntityKeyEncoder, EntityKeyList, decodeEntityKey, encodeEntityKey } from '../../src/online/entity-key.ts';
import { varintSize } from '../../src/online/byte-writer.ts';
import type { FeatureType } from '../../src/core/feature-types.ts';

const root = protobuf.loadSync(path.resolve('proto/pitstop/types/v1/value.proto'));
const Value = root.lookupType('pitstop.types.v1.Value');
const pbDecode = (b: Buffer) => Value.toObject(Value.decode(b), { longs: String, bytes: Buffer, defaults: false, oneofs: true });

const cases: Array<[FeatureType, unknown, string, unknown]> = [
  ['int32', 7, 'int32Val', 7],
  ['int32', -5, 'int32Val', -5],
  ['int32', 0, 'int32Val', 0],
  ['int64', 9007199254740993n, 'int64Val', '9007199254740993'],
  ['int64', -3n, 'int64Val', '-3'],
  ['int64', 0n, 'int64Val', '0'],
  ['int64', -(2n ** 63n), 'int64Val', String(-(2n ** 63n))],
  ['float64', 1.5, 'doubleVal', 1.5],
  ['float32', 0.25, 'floatVal', 0.25],
  ['bool', false, 'boolVal', false],
  ['bool', true, 'boolVal', true],
  ['string', 'héllo', 'stringVal', 'héllo'],
  ['string', 'x'.repeat(300), 'stringVal', 'x'.repeat(300)],
  ['bytes', Buffer.from([1, 2, 255]), 'bytesVal', Buffer.from([1, 2, 255])],
  ['timestamp', 1700000000123, 'unixTimestampMsVal', '1700000000123'],
  ['timestamp', -1000, 'unixTimestampMsVal', '-1000'],
  ['list<float32>', [0.5, -1, 2], 'floatListVal', { val: [0.5, -1, 2] }],
  ['list<float64>', [], 'doubleListVal', {}],
  ['list<int64>', [1n, -2n, 300n], 'int64ListVal', { val: ['1', '-2', '300'] }],
  ['list<int32>', [1, -2, 300], 'int32ListVal', { val: [1, -2, 300] }],
  ['list<string>', ['a', '', 'ccc'], 'stringListVal', { val: ['a', '', 'ccc'] }],
  ['list<bool>', [true, false], 'boolListVal', { val: [true, false] }],
  ['list<bytes>', [Buffer.from('ab')], 'bytesListVal', { val: [Buffer.from('ab')] }],
  ['list<timestamp>', [5, 6], 'unixTimestampMsListVal', { val: ['5', '6'] }],
];

describe('value codec', () => {
  it.each(cases)('%s %s matches protobufjs both ways', (type, v, field, pb) => {
    const bytes = encodeValue(type, v);
    const obj = pbDecode(bytes) as Record<string, unknown>;
    expect(obj.val).toBe(field);
    expect(obj[field]).toEqual(pb);
    // protobufjs' own encoding decodes to the same JS value
    const theirs = Buffer.from(Value.encode(Value.fromObject({ [field]: pb })).finish());
    expect(decodeValue(theirs)).toEqual(decodeValue(bytes));
    const back = decodeValue(bytes);
    if (type === 'int64') expect(back).toBe(v);
    else if (type === 'list<int64>') expect(back).toEqual(v);
    else expect(back).toEqual(v);
  });

  it('null is the empty message, zero is not', () => {
    expect(encodeValue('int64', null).length).toBe(0);
    expect(decodeValue(Buffer.alloc(0))).toBeNull();
    expect(encodeValue('int64', 0).length).toBe(2);
    expect(decodeValue(encodeValue('list<int32>', []))).toEqual([]);
  });

  it('accepts int64 as number, bigint or digits, and timestamps as Date or ISO', () => {
    const a = encodeValue('int64', 12345);
    expect(encodeValue('int64', 12345n)).toEqual(a);
    expect(encodeValue('int64', '12345')).toEqual(a);
    const t = encodeValue('timestamp', 1700000000000);
    expect(encodeValue('timestamp', new Date(1700000000000))).toEqual(t);
    expect(encodeValue('timestamp', new Date(1700000000000).toISOString())).toEqual(t);
    expect(decodeValue(encodeValue('list<float32>', new Float32Array([1, 2])))).toEqual([1, 2]);
  });

  it('reads a naive timestamp string as UTC whatever the machine zone (TZ=America/New_York)', () => {
    // In a child process with a non-UTC zone, where Date.parse would read it as local time.
    const script = `
      import { toTimestampMs } from './src/online/value-codec.ts';
      console.log(JSON.stringify({
        offset: new Date(Date.UTC(2026, 0, 1, 10)).getTimezoneOffset(),
        naive: toTimestampMs('2026-01-01 10:00:00', 'ts'),
        naiveT: toTimestampMs('2026-01-01T10:00:00', 'ts'),
        date: toTimestampMs('2026-01-01', 'ts'),
        offsetGiven: toTimestampMs('2026-01-01T10:00:00+02:00', 'ts'),
      }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, TZ: 'America/New_York' }, encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.offset).toBe(300); // the zone took effect: New York is UTC-5 in January
    expect(r.naive).toBe(Date.UTC(2026, 0, 1, 10));
    expect(r.naiveT).toBe(Date.UTC(2026, 0, 1, 10));
    expect(r.date).toBe(Date.UTC(2026, 0, 1));
    expect(r.offsetGiven).toBe(Date.UTC(2026, 0, 1, 8));
  });

  it('rejects mismatches naming the field', () => {
    expect(() => encodeValue('int32', 1.5, 'trips')).toThrow(/trips: expected int32/);
    expect(() => encodeValue('int32', 2 ** 31, 'trips')).toThrow(/trips/);
    expect(() => encodeValue('int64', 2n ** 63n, 'big')).toThrow(/big: expected int64/);
    expect(() => encodeValue('int64', '12a', 'big')).toThrow(/big: expected int64/);
    expect(() => encodeValue('string', 5, 'name')).toThrow(/name: expected string/);
    expect(() => encodeValue('bool', 'true', 'ok')).toThrow(/ok: expected bool/);
    expect(() => encodeValue('float64', '1.0', 'rate')).toThrow(/rate: expected float64/);
    expect(() => encodeValue('list<float32>', [1, null], 'emb')).toThrow(/emb\[1\]: expected float32/);
    expect(() => encodeValue('list<float32>', 3, 'emb')).toThrow(/emb: expected list<float32>/);
    expect(() => encodeValue('timestamp', 'yesterday', 'ts')).toThrow(/ts: expected timestamp/);
  });
});

describe('row codec', () => {
  const features = [
    { name: 'a', type: 'int64' as const },
    { name: 'b', type: 'string' as const },
    { name: 'c', type: 'list<float32>' as const },
    { name: 'd', type: 'float64' as const },
  ];

  it('round-trips header and values; locates values without copying', () => {
    const enc = new RowEncoder(features, 64);
    const long = 'y'.repeat(200); // forces a 2-byte length and a buffer grow
    const r1 = enc.encode(1000, 2000, [5n, long, [1, 2], null]);
    const r2 = enc.encode(3000, null, [null, 'z', [], 0.5]);
    expect(r1[0]).toBe(1);
    expect(rowEventMs(r1)).toBe(1000);
    expect(rowCreatedMs(r1)).toBe(2000);
    expect(rowCreatedMs(r2)).toBeNull();
    expect(decodeRow(r1, 4).values).toEqual([5n, long, [1, 2], null]);
    expect(decodeRow(r2, 4)).toEqual({ eventMs: 3000, createdMs: null, values: [null, 'z', [], 0.5] });
    const off = new Int32Array(8);
    rowValueOffsets(r1, 4, off);
    expect(off[0]).toBe(ROW_HEADER_BYTES + 1);
    expect(off[7] - off[6]).toBe(0); // null
    expect(off[2] - varintSize(off[3] - off[2])).toBe(off[1]); // length prefix sits right before
    const v = rowValue(r1, 1);
    expect(v.buffer).toBe(r1.buffer); // subarray, not a copy
    expect(decodeValue(v)).toBe(long);
    // the header is readable the way Lua's struct.unpack('<d', row, 2) reads it
    expect(r1.readDoubleLE(1)).toBe(1000);
  });

  it('a type error names the feature and leaves the encoder usable', () => {
    const enc = new RowEncoder(features);
    expect(() => enc.encode(1, 1, [1n, 2, [], 1])).toThrow(/b: expected string/);
    const r = enc.encode(1, 1, [1n, 'ok', [], 1]);
    expect(decodeRow(r, 4).values[1]).toBe('ok');
  });

  it('rejects truncated or foreign rows', () => {
    const enc = new RowEncoder(features);
    const r = enc.encode(1, 1, [1n, 'abc', [1], 1]);
    expect(() => decodeRow(r.subarray(0, r.length - 3), 4)).toThrow(/truncated/);
    const bad = Buffer.from(r);
    bad[0] = 9;
    expect(() => rowEventMs(bad)).toThrow(/format 9/);
  });
});

describe('entity key', () => {
  const keys = [{ name: 'rider_id', type: 'int64' as const }];
  it('is canonical across number, bigint and digit strings', () => {
    const a = encodeEntityKey(keys, [1001]);
    expect(encodeEntityKey(keys, [1001n])).toEqual(a);
    expect(encodeEntityKey(keys, ['1001'])).toEqual(a);
    expect(a.length).toBe(3);
    expect(decodeEntityKey(keys, a)).toEqual([1001n]);
    const big = encodeEntityKey(keys, [2n ** 62n]);
    expect(decodeEntityKey(keys, big)).toEqual([2n ** 62n]);
    expect(decodeEntityKey(keys, encodeEntityKey(keys, [-7]))).toEqual([-7n]);
    expect(decodeEntityKey(keys, encodeEntityKey(keys, [-(2n ** 63n)]))).toEqual([-(2n ** 63n)]);
  });

  it('handles composite keys and distinguishes values', () => {
    const ck = [
      { name: 'rider_id', type: 'int32' as const },
      { name: 'city', type: 'string' as const },
      { name: 'tag', type: 'bytes' as const },
    ];
    const enc = new EntityKeyEncoder(ck);
    const a = enc.encode([1, 'ams', Buffer.from([0x7d])]);
    const b = enc.encodeRecord({ rider_id: 1, city: 'am', tag: Buffer.from('s}') });
    expect(a.equals(b)).toBe(false);
    expect(decodeEntityKey(ck, a)).toEqual([1, 'ams', Buffer.from([0x7d])]);
    expect(a[0]).toBe(1); // never a brace: keeps Redis hash tags non-empty
  });

  it('names the join key at fault', () => {
    expect(() => encodeEntityKey(keys, [undefined])).toThrow(/rider_id: join key is missing/);
    expect(() => encodeEntityKey(keys, [1.5])).toThrow(/rider_id: expected int64/);
    expect(() => encodeEntityKey([{ name: 'city', type: 'string' }], [3])).toThrow(/city: expected string/);
  });
});

describe('entity key lists (packed, as the reader port takes them)', () => {
  const ck = [
    { name: 'rider_id', type: 'int64' as const },
    { name: 'city', type: 'string' as const },
  ];
  const ids = [0, 1, -7, 1001, 2 ** 40, '123456789012345678', 2n ** 62n];
  const cities = ['ams', '', 'zürich', 'x'.repeat(300), 'b}', 'c', 'd'];

  it('packs the same bytes as encoding each entity alone, and unpacks them', () => {
    const list = new EntityKeyEncoder(ck).encodeColumns([ids, cities], ids.length);
    expect(list.length).toBe(ids.length);
    expect(list.offsets[0]).toBe(0);
    expect(list.offsets[ids.length]).toBe(list.bytes.length);
    ids.forEach((id, i) => {
      const alone = encodeEntityKey(ck, [id, cities[i]]);
      expect(list.key(i)).toEqual(alone);
      expect(Buffer.from(list.bytes.subarray(list.offsets[i], list.offsets[i + 1]))).toEqual(alone);
    });
    expect(EntityKeyList.of(list.toArray()).bytes).toEqual(Buffer.from(list.bytes));
    expect(new EntityKeyEncoder(ck).encodeColumns([[], []], 0).length).toBe(0);
  });

  it('a list stays intact while later lists are encoded (the shared chunk is never overwritten)', () => {
    const enc = new EntityKeyEncoder([{ name: 'k', type: 'string' }]);
    const first = enc.encodeColumns([['a', 'b', 'c']], 3);
    const copy = Buffer.from(first.bytes);
    // Enough bytes to grow and renew the encoder's chunk several times, long keys included.
    for (let r = 0; r < 50; r++) enc.encodeColumns([Array.from({ length: 200 }, (_, i) => `${r}-${i}-${'y'.repeat(i % 3 === 0 ? 2000 : 5)}`)], 200);
    expect(Buffer.from(first.bytes)).toEqual(copy);
    expect(first.toArray().map((k) => decodeEntityKey([{ name: 'k', type: 'string' }], k)[0])).toEqual(['a', 'b', 'c']);
  });

  it('a bad value names its row and key, and leaves nothing behind', () => {
    const enc = new EntityKeyEncoder(ck);
    const before = enc.encodeColumns([[1], ['a']], 1);
    let caught: unknown;
    try {
      enc.encodeColumns([[1, 2, 3.5], ['a', 'b', 'c']], 3);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(BadEntityRow);
    expect((caught as BadEntityRow).row).toBe(2);
    expect(String(((caught as BadEntityRow).cause as Error).message)).toMatch(/rider_id: expected int64/);
    expect(() => enc.encodeColumns([[1, 2], ['a', null]], 2)).toThrow(/entity row 1: city: join key is missing/);
    // The refused rows' bytes were rolled back: the next list starts where the refused one did.
    const after = enc.encodeColumns([[9], ['z']], 1);
    expect(after.bytes.byteOffset).toBe(before.bytes.byteOffset + before.bytes.length);
    expect(after.key(0)).toEqual(encodeEntityKey(ck, [9, 'z']));
  });
});
