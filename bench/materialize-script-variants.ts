/**
 * Which newer-wins script shape is cheapest for Redis? Writes N new records (then N replays)
 * through several script variants and reports Redis's own command time (INFO commandstats),
 * beside plain pipelined HSETs (one pipeline of 2048 rows at a time, rows of 417 bytes). Behind
 * the script shape and the 64 rows per call chosen in src/online/redis/; figures in docs/online.md.
 *
 *   npx tsx bench/materialize-script-variants.ts [N]
 */
import { Redis } from 'ioredis';
import { startRedis } from '../test/support/redis-server.ts';
import { WRITE_ROWS_LUA } from '../src/online/redis/write-script.ts';

const N = Number(process.argv[2] ?? 100_000);
const ROW = Buffer.alloc(417, 7);
ROW[0] = 1;
ROW.writeDoubleLE(1_700_000_000_000, 1);
ROW.writeDoubleLE(-8.64e15, 9);

// The previous script (before runs): field, row and expiry sent for every row.
const OLD = `
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

// The script of commit d05f6bf: runs, but one argument per row.
const RUNS_PER_ROW_ARG = `
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

type Shape = false | 'runs' | 'blob';
const variants: [string, string, number, Shape][] = [
  ['old per-row args, 64 rows/call', OLD, 64, false],
  ['runs, one argument per row, 64 rows/call (d05f6bf)', RUNS_PER_ROW_ARG, 64, 'runs'],
  ['runs, one argument per row, 256 rows/call', RUNS_PER_ROW_ARG, 256, 'runs'],
  ['runs, rows as one argument (current script), 64 rows/call', WRITE_ROWS_LUA, 64, 'blob'],
  ['runs, rows as one argument (current script), 256 rows/call', WRITE_ROWS_LUA, 256, 'blob'],
  ['runs, rows as one argument (current script), 2048 rows/call', WRITE_ROWS_LUA, 2048, 'blob'],
];

async function usec(r: Redis, names: string[]) {
  const s = await r.info('commandstats');
  let t = 0;
  for (const m of s.matchAll(/cmdstat_(\w+):calls=\d+,usec=(\d+)/g)) if (names.includes(m[1])) t += Number(m[2]);
  return t;
}
const key = (i: number) => Buffer.from(`ps:bench:{${i}}`);
const server = await startRedis();
const redis = new Redis(server.url);
try {
  await redis.config('RESETSTAT');
  let t0 = performance.now();
  for (let s = 0; s < N; s += 2048) {
    const p = redis.pipeline();
    for (let i = s; i < Math.min(N, s + 2048); i++) p.hset(key(i), 'bench_view@1', ROW);
    await p.exec();
  }
  console.log(`hset: redis ${(await usec(redis, ['hset']) / N).toFixed(2)} us/row, wall ${((performance.now() - t0) * 1000 / N).toFixed(2)} us/row`);
  for (const [name, lua, per, uniform] of variants.filter((v) => !process.env.ONLY || v[0].includes(process.env.ONLY))) {
    await redis.flushall();
    const sha = await redis.script('LOAD', lua) as string;
    for (const pass of ['new', 'replay']) {
      await redis.config('RESETSTAT');
      t0 = performance.now();
      const exp = String(Date.now() + 86_400_000);
      for (let s = 0; s < N; s += 2048) {
        const p = redis.pipeline();
        for (let c = s; c < Math.min(N, s + 2048); c += per) {
          const end = Math.min(N, s + 2048, c + per);
          const keys: Buffer[] = [];
          const n = end - c;
          const argv: (Buffer | string)[] = uniform === 'runs' ? ['bench_view@1', exp, String(n)] : uniform === 'blob' ? ['0', 'bench_view@1', exp, String(n)] : [];
          for (let i = c; i < end; i++) {
            keys.push(key(i));
            if (uniform === 'runs') argv.push(ROW);
            else if (!uniform) argv.push('bench_view@1', ROW, exp);
          }
          if (uniform === 'blob') {
            const lens = Buffer.allocUnsafe(4 * n);
            for (let i = 0; i < n; i++) lens.writeUInt32LE(ROW.length, 4 * i);
            argv.push(lens, Buffer.concat(Array(n).fill(ROW)));
          }
          // Arrays, not spread (ioredis flattens them); its typings want single values.
          (p as any).evalsha(sha, keys.length, keys, argv);
        }
        await p.exec();
      }
      console.log(`${name} (${pass}): redis ${(await usec(redis, ['evalsha']) / N).toFixed(2)} us/row, wall ${((performance.now() - t0) * 1000 / N).toFixed(2)} us/row`);
    }
  }
} finally {
  redis.disconnect();
  await server.stop();
}
