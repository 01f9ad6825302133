/**
 * The Redis read script's reply reader (src/online/redis/read-script.ts): every MessagePack form
 * the reply can take is read, and anything else, or a reply cut short, is an INTERNAL error
 * rather than a misread row. (The script itself, against a real redis-server, is covered by
 * test/online/redis-store.test.ts and the online store contract.)
 */
import { describe, expect, it } from 'vitest';
import { ReadReply } from '../../src/online/redis/read-script.ts';

const bytes = (...parts: (number | number[] | Buffer)[]) => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(typeof p === 'number' ? [p] : p))));
const be = (v: number, n: 2 | 4) => {
  const b = Buffer.alloc(n);
  if (n === 2) b.writeUInt16BE(v);
  else b.writeUInt32BE(v);
  return b;
};
const rowsOf = (buf: Buffer, shape: number[]) => {
  const r = new ReadReply(buf);
  const out: (string | null)[][] = [];
  r.array(shape.length);
  for (const n of shape) {
    r.array(n);
    const rows: (string | null)[] = [];
    for (let i = 0; i < n; i++) rows.push(r.row() ? buf.subarray(r.start, r.end).toString() : null);
    out.push(rows);
  }
  r.done();
  return out;
};

describe('read script reply', () => {
  it('reads fixstr, str8/16/32, bin8/16/32, nil and false, in fixarray, array16 and array32', () => {
    const a = Buffer.from('a');
    const b300 = Buffer.alloc(300, 98);
    const c = Buffer.from('cc');
    const buf = bytes(0xdc, be(2, 2), 0x93, 0xa1, a, 0xc2, 0xda, be(300, 2), b300, 0xdd, be(6, 4), 0xc0, 0xd9, 2, c, 0xdb, be(2, 4), c, 0xc4, 1, a, 0xc5, be(1, 2), a, 0xc6, be(2, 4), c);
    expect(rowsOf(buf, [3, 6])).toEqual([
      ['a', null, 'b'.repeat(300)],
      [null, 'cc', 'cc', 'a', 'a', 'cc'],
    ]);
  });

  it('a reply that ends early, runs long, has another shape or another type is an INTERNAL error', () => {
    const ok = bytes(0x91, 0x92, 0xa1, 0x61, 0xc2);
    expect(rowsOf(ok, [2])).toEqual([['a', null]]);
    let cut: unknown;
    try {
      rowsOf(ok.subarray(0, 2), [2]);
    } catch (e) {
      cut = e;
    }
    expect(cut).toMatchObject({ reason: 'INTERNAL', message: expect.stringMatching(/at byte 2: expected more bytes/) });
    expect(() => rowsOf(bytes(0x91, 0x92, 0xa5, 0x61, 0xc2), [2])).toThrow(/a string that fits/);
    expect(() => rowsOf(bytes(ok, 0xc0), [2])).toThrow(/the end of the reply/);
    expect(() => rowsOf(ok, [3])).toThrow(/an array of 3, got 2/);
    expect(() => rowsOf(bytes(0x91, 0x92, 0x01, 0xc2), [2])).toThrow(/a string, nil or false, got 0x1/);
    expect(() => rowsOf(bytes(0xa1, 0x61), [1])).toThrow(/an array header, got 0xa1/);
  });
});
