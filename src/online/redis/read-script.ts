/**
 * A serving read, inside Redis: every HMGET of one request in one script call, answered as one
 * nested array. Against a pipeline of E HMGETs it sends one command instead of E, and ioredis
 * builds and parses one reply instead of E (one Command object, one promise, one
 * callback each): bench/serving/read-variants.ts measured client CPU per read at 100 entities
 * x 5 views 1,116 → 352 µs and at 500 x 1 3,399 → 600 µs, with redis-server CPU no higher.
 *
 * KEYS[k]          entity record of the k-th entity, over all groups in order
 * ARGV, per group  nk (entities in the group), nf (fields), then the nf fields (`view@version`)
 * returns          one array per key, in KEYS order: the HMGET reply for its group's fields
 *                  (a missing field or record reads as nil)
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
local call, unpack = redis.call, unpack
local out, k, a, nargs = {}, 1, 1, #ARGV
while a <= nargs do
  local nk, nf = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local first, last = a + 2, a + 1 + nf
  for _ = 1, nk do
    out[k] = call('HMGET', KEYS[k], unpack(ARGV, first, last))
    k = k + 1
  end
  a = last + 1
end
return out
`;

/** The ioredis command name the script is defined under. */
export const READ_ROWS_COMMAND = 'pitstopReadRows';
