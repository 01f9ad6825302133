/**
 * A serving read, inside Redis: every HMGET of one request in one script call, answered as ONE
 * bulk string. Against a pipeline of E HMGETs it sends one command instead of E, and ioredis
 * builds one Command and parses one reply value instead of E commands and E x V values: the
 * reply decoder is ioredis' costliest part of a large read. bench/serving/read-variants.ts,
 * CPU per read, client + redis-server (closed loop, best of 3 rounds, load ~1.9):
 *
 *   shape (entities x views)   pipeline of HMGETs   script, nested arrays   script, one string
 *   1 x 5                      85 + 38 µs           69 + 40 µs              75 + 43 µs
 *   100 x 5                    1,163 + 150 µs       284 + 250 µs            221 + 350 µs
 *   500 x 1                    3,263 + 250 µs       578 + 700 µs            417 + 550 µs
 *
 * A Lua `redis.call` costs Redis more than a pipelined command, but the sum falls by 55–70%,
 * and it falls where it matters most: in the serving process. One string rather than nested
 * arrays takes a further 20–30% off the client for large reads (one reply value to parse) at
 * some Redis CPU (a length per value, one concatenation).
 *
 * KEYS[k]          entity record of the k-th entity, over all groups in order
 * ARGV, per group  nk (entities in the group), nf (fields), then the nf fields (`view@version`)
 * returns          for each key in KEYS order, for each field of its group: a little-endian
 *                  int32 length then that many bytes (the stored row), or length -1 when the
 *                  record or field is missing
 *
 * A group is a set of views sharing one entity key array (views keyed by the same join keys),
 * read with one HMGET per entity. `no-writes`: Redis refuses any write from it, and the read
 * still runs when the server is over its memory limit.
 *
 * Standalone servers only: the keys of one script call must share a hash slot on a cluster,
 * and every entity record has a slot of its own (record-key.ts), so a cluster read stays a
 * pipeline of HMGETs per node (redis-store.ts).
 *
 * Registered with ioredis `defineCommand` (EVALSHA, EVAL on first use and after NOSCRIPT).
 */
export const READ_ROWS_LUA = `#!lua flags=no-writes
local call, unpack, pack = redis.call, unpack, struct.pack
local missing = pack('<i4', -1)
local out, n, k, a, nargs = {}, 0, 1, 1, #ARGV
while a <= nargs do
  local nk, nf = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local first, last = a + 2, a + 1 + nf
  for _ = 1, nk do
    local vals = call('HMGET', KEYS[k], unpack(ARGV, first, last))
    for f = 1, nf do
      local v = vals[f]
      if v then
        out[n + 1] = pack('<i4', #v)
        out[n + 2] = v
        n = n + 2
      else
        n = n + 1
        out[n] = missing
      end
    end
    k = k + 1
  end
  a = last + 1
end
return table.concat(out)
`;

/** The ioredis command name the script is defined under. */
export const READ_ROWS_COMMAND = 'pitstopReadRows';
