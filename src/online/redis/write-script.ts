/**
 * The newer-wins write, inside Redis. One script call writes many rows; each row is checked and
 * written without interleaving (a script runs atomically), so replays never roll a value back
 * and concurrent writers converge to the row with the greatest (event timestamp, created
 * timestamp). A whole call is atomic: other clients see all of its rows or none.
 *
 * Arguments come in runs of rows that share a view version and an expiry, so the field name and
 * expiry are sent (and turned into Lua strings) once per run, not once per row:
 *
 * KEYS[k]            entity record (hash) of the k-th row, over all runs in order
 * ARGV, per run      field (`view@version`), expiry (absolute epoch ms, or '' = never expires),
 *                    n (row count), then the n encoded rows; a row's header holds the event ts
 *                    at byte 2 (Lua 1-based) and the created ts at byte 10, little-endian doubles
 * returns            the number of rows written (the others were stale)
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
 * (PEXPIRETIME, HGET). bench/materialize-script-variants.ts compares shapes.
 *
 * Registered with ioredis `defineCommand`: the first call on a connection sends EVAL, later
 * ones EVALSHA, and a NOSCRIPT answer (after a restart or SCRIPT FLUSH) resends it as EVAL.
 */
export const WRITE_ROWS_LUA = `
local call, unpack = redis.call, struct.unpack
local written, k, a, nargs = 0, 1, 1, #ARGV
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
