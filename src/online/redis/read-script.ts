import { PitstopError } from '../../core/errors.ts';

/**
 * A serving read inside Redis, the fallback to the direct read connections (read-connection.ts):
 * used with `direct_reads: false`, on a standalone server whose URL those do not take, and on a
 * cluster master until its direct connection has opened (one call per master). Every MGET of
 * one call runs in the script, answered as ONE
 * bulk string (MessagePack, made by Redis' built-in `cmsgpack` in C), so ioredis builds one
 * command and parses one reply value per call; the rows then stay where they are in that one
 * buffer (`readSpans`).
 *
 * ARGV[1]         every row key of the read, packed: per key a 4-byte big-endian length, then
 *                  the key's bytes; per group, entity by entity, the nf keys of that entity's
 *                  rows (row-key.ts), in the group's view order
 * ARGV, per group  nk (entities in the group), nf (views in the group)
 * returns          MessagePack: an array with one entry per entity (all groups in order), each
 *                  an array of its group's nf rows: the stored row as a string, or false
 *                  (missing, or a key holding something other than a string: MGET's nil)
 *
 * One MGET per entity, not one for the whole call: on a cluster a single command must keep to
 * one slot even inside a script (`allow-cross-slot-keys` only lets one script read many slots),
 * and an entity's rows share a slot (the hash tag). On a standalone server the direct MGET is
 * far cheaper than this script: Lua costs Redis ~0.6 µs per value turned into a Lua string and
 * back (bench/serving/read-variants.ts), whatever the command.
 *
 * Why the keys come packed in one argument rather than as KEYS: a key per argument costs the
 * client a Buffer per key plus ioredis' per-argument framing, while cutting a key out of the
 * packed string costs Redis one string.sub, as a KEYS entry costs it one string. Undeclared keys
 * are allowed; on a cluster Redis still checks that each one is served by the node (below).
 *
 * A group is a set of views sharing one entity key list (views keyed by the same join keys).
 * `no-writes`: Redis refuses any write from it, and the read still runs when the server is over
 * its memory limit.
 *
 * On a cluster, one call per master with the keys whose slots it owns: every entity has a slot
 * of its own (row-key.ts), and `allow-cross-slot-keys` lets one call read keys of many slots
 * as long as they are all on that master (a key it does not own fails the call with "non local
 * key", and redis-store.ts falls back to single MGETs that ioredis redirects).
 *
 * Registered with ioredis `defineCommand` (EVALSHA, EVAL on first use and after NOSCRIPT).
 */
export const READ_ROWS_LUA = `#!lua flags=no-writes,allow-cross-slot-keys
local call, unpack, byte, sub = redis.call, unpack, string.byte, string.sub
local packed = ARGV[1]
local out, keys, k, p, a, nargs = {}, {}, 1, 1, 2, #ARGV
while a <= nargs do
  local nk, nf = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  for _ = 1, nk do
    for f = 1, nf do
      local b1, b2, b3, b4 = byte(packed, p, p + 3)
      local e = p + 3 + ((b1 * 256 + b2) * 256 + b3) * 256 + b4
      keys[f] = sub(packed, p + 4, e)
      p = e + 1
    end
    out[k] = call('MGET', unpack(keys, 1, nf))
    k = k + 1
  end
  a = a + 2
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
