/**
 * The newer-wins write, inside Redis. One script call writes one or more rows; each row is
 * checked and written atomically (a script runs without interleaving), so replays never roll a
 * value back and concurrent writers converge to the row with the greatest
 * (event timestamp, created timestamp).
 *
 * KEYS[i]              entity record (hash)
 * ARGV[3i-2]           field: view@version
 * ARGV[3i-1]           encoded row; its header holds event ts at byte 2 (Lua 1-based), created ts at 10
 * ARGV[3i]             absolute expiry in epoch ms, or '' for "never expires"
 * returns              the number of rows written (the others were stale)
 *
 * Expiry: several view versions share one record, so the record keeps the latest expiry any of
 * them needs (PEXPIRETIME before the write: -2 = new record, -1 = a view without ttl lives
 * here, so the record never expires). Requires Redis >= 7.0 (PEXPIRETIME).
 *
 * Registered with ioredis `defineCommand`, which sends EVALSHA and falls back to EVAL when the
 * server answers NOSCRIPT (after a restart or SCRIPT FLUSH).
 */
export const WRITE_ROWS_LUA = `
local written = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local field = ARGV[3 * i - 2]
  local row = ARGV[3 * i - 1]
  local exp = ARGV[3 * i]
  local t = redis.call('PEXPIRETIME', key)
  local newer = true
  if t ~= -2 then
    local cur = redis.call('HGET', key, field)
    if cur then
      local ce, cc = struct.unpack('<dd', cur, 2)
      local ne, nc = struct.unpack('<dd', row, 2)
      if ne < ce or (ne == ce and nc <= cc) then newer = false end
    end
  end
  if newer then
    redis.call('HSET', key, field, row)
    if exp == '' then
      if t >= 0 then redis.call('PERSIST', key) end
    else
      local want = tonumber(exp)
      if t == -2 or (t >= 0 and t < want) then redis.call('PEXPIREAT', key, want) end
    end
    written = written + 1
  end
end
return written
`;

/** The ioredis command name the script is defined under. */
export const WRITE_ROWS_COMMAND = 'pitstopWriteRows';
