/**
 * The newer-wins write, inside Redis. One script call writes many rows; each row is checked and
 * written without interleaving (a script runs atomically), so replays never roll a value back
 * and concurrent writers converge to the row with the greatest (event timestamp, created
 * timestamp). A whole call is atomic: other clients see all of its rows or none, and a call
 * that fails changes nothing (below).
 *
 * Arguments come in runs of rows that share a view version and an expiry, so the field name and
 * expiry are sent (and turned into Lua strings) once per run, not once per row:
 *
 * KEYS[k]            entity record (hash) of the k-th row, over all runs in order
 * ARGV[1]            '1' = check every key before writing anything (atomic calls), '0' = not
 * ARGV, per run      field (`view@version`), expiry (absolute epoch ms, or '' = never expires),
 *                    n (row count), then the n encoded rows; a row's header holds the event ts
 *                    at byte 2 (Lua 1-based) and the created ts at byte 10, little-endian doubles
 * returns            the number of rows written (the others were stale)
 *
 * Nothing or everything: a Redis script is not rolled back when it fails halfway (writes made
 * before an error stay in place). The only failure a well-formed call can meet inside the
 * script is a key holding something other than a hash (HGET/HSET answer WRONGTYPE). With
 * ARGV[1] = '1' the script first checks every key's TYPE and, if one is neither a hash nor
 * absent, fails the call with an error naming the key before any write. Atomic calls (push)
 * check; materialization's small calls do not (one command less per row; a failed call may
 * leave a prefix there, as documented for non-atomic writes).
 *
 * The same key may appear several times in one call (duplicates in a batch): rows are applied
 * in order and each is compared with what the previous one left, so the newest wins whatever
 * the order.
 *
 * Expiry: several view versions share one record, so the record keeps the latest expiry any of
 * them needs (PEXPIRETIME before the write: -2 = new record, -1 = a view without ttl lives
 * here, so the record never expires); PEXPIREAT runs only when the expiry moves later.
 * Requires Redis >= 7.0 (PEXPIRETIME).
 *
 * Cost per new row: three commands (PEXPIRETIME, HSET, PEXPIREAT); a stale row: two
 * (PEXPIRETIME, HGET); one more (TYPE) when checking. bench/materialize-script-variants.ts
 * compares shapes: sending a run's rows as one argument (cut with string.sub in the script)
 * measured ~0.4 µs per new row dearer for Redis than one argument per row (the extra copy),
 * so rows stay one argument each.
 *
 * Registered with ioredis `defineCommand`: the first call on a connection sends EVAL, later
 * ones EVALSHA, and a NOSCRIPT answer (after a restart or SCRIPT FLUSH) resends it as EVAL.
 */
export const WRITE_ROWS_LUA = `
local call, unpack = redis.call, struct.unpack
local nargs = #ARGV
if ARGV[1] == '1' then
  for k = 1, #KEYS do
    local t = call('TYPE', KEYS[k]).ok
    if t ~= 'hash' and t ~= 'none' then
      return redis.error_reply('PITSTOP_WRONG_TYPE key ' .. KEYS[k] .. ' holds a ' .. t .. ', not a pitstop record (hash); nothing was written')
    end
  end
end
local written, k, a = 0, 1, 2
while a <= nargs do
  local field, exp, n = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local want = tonumber(exp)
  a = a + 3
  for _ = 1, n do
    local key, row = KEYS[k], ARGV[a]
    k = k + 1
    a = a + 1
    local t = call('PEXPIRETIME', key)
    local newer = true
    if t ~= -2 then
      local cur = call('HGET', key, field)
      if cur then
        local ce, cc = unpack('<dd', cur, 2)
        local ne, nc = unpack('<dd', row, 2)
        if ne < ce or (ne == ce and nc <= cc) then newer = false end
      end
    end
    if newer then
      call('HSET', key, field, row)
      if want == nil then
        if t >= 0 then call('PERSIST', key) end
      elseif t == -2 or (t >= 0 and t < want) then
        call('PEXPIREAT', key, exp)
      end
      written = written + 1
    end
  end
end
return written
`;

/** The ioredis command name the script is defined under. */
export const WRITE_ROWS_COMMAND = 'pitstopWriteRows';
