import { PitstopError } from '../../core/errors.ts';

/**
 * A serving read, inside Redis: every HMGET of one request in one script call, answered as ONE
 * bulk string (MessagePack, made by Redis' built-in `cmsgpack` in C). Against a pipeline of E
 * HMGETs it sends one command instead of E, and ioredis builds one Command and parses one reply
 * value instead of E commands and E x V values: the reply decoder is ioredis' costliest part of
 * a large read. The rows then stay where they are in that one buffer (`readSpans`).
 *
 * Measured 2026-11-28 (bench/serving/read-variants.ts: client CPU per read, closed loop, best of
 * 3 alternating rounds, load ~2.5; Redis time per call from INFO commandstats, same data):
 *
 *   entities x views    pipeline of HMGETs   script, nested arrays   this script (readSpans)
 *   client  1 x 5       21 µs                16 µs                   19 µs
 *           100 x 5     884 µs               218 µs                  118 µs
 *           500 x 1     2,804 µs             522 µs                  322 µs
 *   Redis   1 x 5       ~5 µs                4.5 µs                  4.3 µs
 *           100 x 5     ~100 µs              218 µs                  228 µs
 *           500 x 1     ~300 µs              593 µs                  467 µs
 *
 * A Lua `redis.call` costs Redis more than a pipelined command (the HMGETs alone: 155 µs at
 * 100 x 5), so the script is dearer for Redis than a pipeline, but the sum falls by 60–75%, and
 * it falls where it matters most: in the serving process. Framing the rows in Lua instead (a
 * length per row, table.concat) cost Redis ~55 µs more at 100 x 5 than cmsgpack's C encoder.
 *
 * Keys packed into ARGV[1] (2026-12-06, same bench, load ~0.8, another day than the table, so
 * compare loosely; Redis CPU from /proc in 10 ms ticks): readSpans client CPU 37 µs at 1 x 5,
 * 67 µs at 100 x 5 (118 with KEYS above), 80 µs at 500 x 1 (322); Redis 200 and 400 µs per
 * read at 100 x 5 and 500 x 1, no dearer than with KEYS.
 *
 * ARGV[1]         every record key of the read, packed: per key a 4-byte big-endian length,
 *                  then the key's bytes (the k-th key is the k-th entity over all groups in order)
 * ARGV, per group  nk (entities in the group), nf (fields), then the nf fields (`view@version`)
 * returns          MessagePack: an array with one entry per key in ARGV[1] order, each an array
 *                  of its group's nf fields: the stored row as a string, or false (HMGET's
 *                  missing field or record)
 *
 * Why the keys come packed in one argument rather than as KEYS: a key per argument costs the
 * client a Buffer for the record key plus ioredis' per-argument framing (at 500 entities, ~120 KB
 * of the request's ~210 KB of garbage, bench/serving/alloc.ts), while cutting one key out of the
 * packed string costs Redis one string.sub, as a KEYS entry costs it one string. Undeclared keys
 * are allowed; on a cluster Redis still checks that each one is served by the node (below).
 *
 * A group is a set of views sharing one entity key array (views keyed by the same join keys),
 * read with one HMGET per entity. `no-writes`: Redis refuses any write from it, and the read
 * still runs when the server is over its memory limit.
 *
 * On a cluster, one call per master with the keys whose slots it owns: every entity record has a
 * slot of its own (record-key.ts), and `allow-cross-slot-keys` lets one call read keys of many
 * slots as long as they are all on that master (a key it does not own fails the call with
 * "non local key", and redis-store.ts falls back to single HMGETs that ioredis redirects).
 *
 * Registered with ioredis `defineCommand` (EVALSHA, EVAL on first use and after NOSCRIPT).
 */
export const READ_ROWS_LUA = `#!lua flags=no-writes,allow-cross-slot-keys
local call, unpack, byte, sub = redis.call, unpack, string.byte, string.sub
local packed = ARGV[1]
local out, k, p, a, nargs = {}, 1, 1, 2, #ARGV
while a <= nargs do
  local nk, nf = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local first, last = a + 2, a + 1 + nf
  for _ = 1, nk do
    local b1, b2, b3, b4 = byte(packed, p, p + 3)
    local e = p + 3 + ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    out[k] = call('HMGET', sub(packed, p + 4, e), unpack(ARGV, first, last))
    p = e + 1
    k = k + 1
  end
  a = last + 1
end
if p ~= #packed + 1 then return redis.error_reply('pitstop read: packed keys do not match the groups') end
return cmsgpack.pack(out)
`;

/** The ioredis command name the script is defined under. */
export const READ_ROWS_COMMAND = 'pitstopReadRows';

/**
 * A cursor over the script's reply: just the MessagePack the reply can hold (arrays, strings or
 * binaries, nil, false), no object per element. Anything else, or a reply that ends early, is
 * an INTERNAL error: never a misread row.
 */
export class ReadReply {
  /** Where the next element starts. */
  at = 0;
  /** The last row read by `row()`: its bytes are `buf[start..end)`. */
  start = 0;
  end = 0;

  constructor(readonly buf: Buffer) {}

  /** An array header, which must announce `count` elements. */
  array(count: number): void {
    const b = this.byte();
    let n: number;
    if (b >= 0x90 && b <= 0x9f) n = b & 0x0f;
    else if (b === 0xdc) n = this.uint(2);
    else if (b === 0xdd) n = this.uint(4);
    else throw this.bad(`an array header, got 0x${b.toString(16)}`);
    if (n !== count) throw this.bad(`an array of ${count}, got ${n}`);
  }

  /** A row (true; `start`/`end` set) or a missing one (false: nil or false in the reply). */
  row(): boolean {
    const b = this.byte();
    let len: number;
    if (b >= 0xa0 && b <= 0xbf) len = b & 0x1f;
    else if (b === 0xd9 || b === 0xc4) len = this.uint(1);
    else if (b === 0xda || b === 0xc5) len = this.uint(2);
    else if (b === 0xdb || b === 0xc6) len = this.uint(4);
    else if (b === 0xc0 || b === 0xc2) return false;
    else throw this.bad(`a string, nil or false, got 0x${b.toString(16)}`);
    this.start = this.at;
    this.end = this.at + len;
    if (this.end > this.buf.length) throw this.bad('a string that fits');
    this.at = this.end;
    return true;
  }

  /** Throws unless the whole reply was read. */
  done(): void {
    if (this.at !== this.buf.length) throw this.bad('the end of the reply');
  }

  private byte(): number {
    if (this.at >= this.buf.length) throw this.bad('more bytes');
    return this.buf[this.at++];
  }

  private uint(bytes: 1 | 2 | 4): number {
    if (this.at + bytes > this.buf.length) throw this.bad('more bytes');
    const v = bytes === 1 ? this.buf[this.at] : bytes === 2 ? this.buf.readUInt16BE(this.at) : this.buf.readUInt32BE(this.at);
    this.at += bytes;
    return v;
  }

  private bad(expected: string): PitstopError {
    return new PitstopError('INTERNAL', `online store (redis) read: the read script's reply (${this.buf.length} bytes) is not what was asked for at byte ${this.at}: expected ${expected}`);
  }
}
