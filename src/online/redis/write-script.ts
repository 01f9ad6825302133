/**
 * The newer-wins write, inside Redis. One script call writes many rows; each row is checked and
 * written without interleaving (a script runs atomically), so replays never roll a value back
 * and concurrent writers converge to the row with the greatest (event timestamp, created
 * timestamp). A whole call is atomic: other clients see all of its rows or none, and a call
 * that fails changes nothing (below).
 *
 * Storage format 2: every row is a string key of its own (row-key.ts), so a row's expiry is
 * its key's. Arguments come in runs of rows that share an expiry, so the expiry is sent (and
 * turned into a Lua string) once per run, not once per row:
 *
 * KEYS[k]            the k-th row's key (`<prefix>:<project>:<view>@<version>:{<entity>}`), over
 *                    all runs in order
 * ARGV[1]            '1' = check every key before writing anything (atomic calls), '0' = not
 * ARGV, per run      expiry (absolute epoch ms, or '' = never expires), n (row count), then the
 *                    n encoded rows; a row's header holds the event ts at byte 2 (Lua 1-based)
 *                    and the created ts at byte 10, little-endian doubles
 * returns            the number of rows written (the others were stale)
 *
 * Nothing or everything: a Redis script is not rolled back when it fails halfway (writes made
 * before an error stay in place). The only failure a well-formed call can meet inside the
 * script is a key holding something other than a string (GET answers WRONGTYPE). With
 * ARGV[1] = '1' the script first checks every key's TYPE and, if one is neither a string nor
 * absent, fails the call with an error naming the key before any write. Atomic calls (push)
 * check; materialization's small calls do not (one command less per row; a failed call may
 * leave a prefix there, as documented for non-atomic writes).
 *
 * The same key may appear several times in one call (duplicates in a batch): rows are applied
 * in order and each is compared with what the previous one left, so the newest wins whatever
 * the order.
 *
 * Expiry: `SET ... PXAT <expiry>` with the row, or a plain SET (which also drops an expiry the
 * key had) for a view without ttl. A view version's ttl never changes, and a newer row is
 * written later, so a row's expiry only moves later.
 *
 * Cost per new row: two commands (GET, SET); a stale row: one (GET); one more (TYPE) when
 * checking. (Format 1, one hash per entity, took three per new row: PEXPIRETIME, HSET,
 * PEXPIREAT.) bench/materialize-script-variants.ts compares argument shapes: sending a run's
 * rows as one argument (cut with string.sub in the script) measured ~0.4 µs per new row dearer
 * for Redis than one argument per row (the extra copy), so rows stay one argument each.
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
    if t ~= 'string' and t ~= 'none' then
      return redis.error_reply('PITSTOP_WRONG_TYPE key ' .. KEYS[k] .. ' holds a ' .. t .. ', not a pitstop row (string); nothing was written')
    end
  end
end
local written, k, a = 0, 1, 2
while a <= nargs do
  local exp, n = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  for _ = 1, n do
    local key, row = KEYS[k], ARGV[a]
    k = k + 1
    a = a + 1
    local cur = call('GET', key)
    local newer = true
    if cur then
      local ce, cc = unpack('<dd', cur, 2)
      local ne, nc = unpack('<dd', row, 2)
      if ne < ce or (ne == ce and nc <= cc) then newer = false end
    end
    if newer then
      if exp == '' then call('SET', key, row) else call('SET', key, row, 'PXAT', exp) end
      written = written + 1
    end
  end
end
return written
`;

/** The ioredis command name the script is defined under. */
export const WRITE_ROWS_COMMAND = 'pitstopWriteRows';
