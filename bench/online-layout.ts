/**
 * Micro-benchmark behind the online storage layout (docs/online-storage-format.md, "Why this
 * layout"): one string key per (view version, entity) against one hash per entity with one
 * packed field per view version. Both write through a newer-wins Lua script; reads fetch every
 * view of a batch of entities in one pipelined round trip (MGET per entity vs HMGET per entity).
 *
 *   npx tsx bench/online-layout.ts [--entities 50000]
 */
import { Redis } from 'ioredis';
import { writeFileSync, mkdirSync } from 'node:fs';
import { startRedis } from '../test/support/redis-server.ts';
import { RowEncoder } from '../src/online/row-codec.ts';
import { EntityKeyEncoder } from '../src/online/entity-key.ts';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const ENTITIES = arg('entities', 50_000);

const STRING_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ce, cc = struct.unpack('<dd', cur, 2)
  local ne, nc = struct.unpack('<dd', ARGV[1], 2)
  if ne < ce or (ne == ce and nc <= cc) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
return 1`;
const HASH_LUA = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ce, cc = struct.unpack('<dd', cur, 2)
  local ne, nc = struct.unpack('<dd', ARGV[2], 2)
  if ne < ce or (ne == ce and nc <= cc) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('PEXPIRETIME', KEYS[1])
if t < want then redis.call('PEXPIREAT', KEYS[1], want) end
return 1`;

interface Scenario {
  name: string;
  views: number;
  features: number;
}
const scenarios: Scenario[] = [
  { name: '1 view x 50 float64', views: 1, features: 50 },
  { name: '5 views x 4 int64', views: 5, features: 4 },
];

async function usedMemory(r: Redis): Promise<number> {
  const info = await r.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/**
 * Feast's layout for comparison: one hash per entity, one field per feature (each value its own
 * encoded Value), written with plain HSET (no newer-wins check) and read with HMGET of every field.
 */
async function runFieldPerFeature(r: Redis, s: Scenario) {
  await r.flushall();
  const base = await usedMemory(r);
  const keys = new EntityKeyEncoder([{ name: 'id', type: 'int64' }]);
  const fields = Array.from({ length: s.views * s.features }, (_, i) => `v${Math.floor(i / s.features)}:f${i % s.features}`);
  const enc = new RowEncoder([{ name: 'x', type: 'float64' }]);
  const value = decodeless(enc.encode(0, null, [1.5]));
  let t0 = performance.now();
  for (let start = 0; start < ENTITIES; start += 1000) {
    const p = r.pipeline();
    for (let i = start; i < Math.min(ENTITIES, start + 1000); i++) {
      const key = Buffer.concat([Buffer.from('ps:p:{'), keys.encode([i]), Buffer.from('}')]);
      const args: (string | Buffer)[] = [];
      for (const f of fields) args.push(f, value);
      p.hset(key, ...args);
    }
    await p.exec();
  }
  const writeS = (performance.now() - t0) / 1000;
  const mem = (await usedMemory(r)) - base;
  const BATCHES = 300;
  t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const p = r.pipeline();
    for (let k = 0; k < 100; k++) {
      const key = Buffer.concat([Buffer.from('ps:p:{'), keys.encode([Math.floor(Math.random() * ENTITIES)]), Buffer.from('}')]);
      p.hmgetBuffer(key, ...fields);
    }
    await p.exec();
  }
  return {
    scenario: s.name,
    layout: 'field-per-feature (Feast-like, plain HSET)',
    entities: ENTITIES,
    writeRowsPerSec: Math.round(ENTITIES / writeS),
    bytesPerEntity: Math.round(mem / ENTITIES),
    readBatch100Ms: Number(((performance.now() - t0) / BATCHES).toFixed(3)),
  };
}

/** The Value bytes of a one-feature row (header and length prefix dropped). */
function decodeless(row: Buffer): Buffer {
  return Buffer.from(row.subarray(18));
}

async function runScenario(r: Redis, s: Scenario, layout: 'string' | 'hash') {
  await r.flushall();
  const base = await usedMemory(r);
  const enc = new RowEncoder(Array.from({ length: s.features }, (_, i) => ({ name: `f${i}`, type: s.views === 1 ? ('float64' as const) : ('int64' as const) })));
  const keys = new EntityKeyEncoder([{ name: 'id', type: 'int64' }]);
  const sha = await r.script('LOAD', layout === 'string' ? STRING_LUA : HASH_LUA) as string;
  const expireAt = String(Date.now() + 86_400_000);
  const values = Array.from({ length: s.features }, (_, i) => (s.views === 1 ? i * 1.5 : i * 1000));
  const keyOf = (e: Buffer, v: number) => (layout === 'string' ? Buffer.concat([Buffer.from('ps:p:{'), e, Buffer.from(`}v${v}@1`)]) : Buffer.concat([Buffer.from('ps:p:{'), e, Buffer.from('}')]));
  let t0 = performance.now();
  const CHUNK = 1000;
  for (let start = 0; start < ENTITIES; start += CHUNK) {
    enc.newChunk();
    const p = r.pipeline();
    for (let i = start; i < Math.min(ENTITIES, start + CHUNK); i++) {
      const e = keys.encode([i]);
      const row = enc.encode(1_700_000_000_000 + i, null, values);
      for (let v = 0; v < s.views; v++) {
        if (layout === 'string') p.evalsha(sha, 1, keyOf(e, v), row, expireAt);
        else p.evalsha(sha, 1, keyOf(e, v), `v${v}@1`, row, expireAt);
      }
    }
    await p.exec();
  }
  const writeS = (performance.now() - t0) / 1000;
  const mem = (await usedMemory(r)) - base;
  // reads: batches of 100 random entities, all views, one pipeline per batch
  const BATCHES = 300;
  t0 = performance.now();
  let found = 0;
  for (let b = 0; b < BATCHES; b++) {
    const p = r.pipeline();
    for (let k = 0; k < 100; k++) {
      const e = keys.encode([Math.floor(Math.random() * ENTITIES)]);
      if (layout === 'string') p.mgetBuffer(...Array.from({ length: s.views }, (_, v) => keyOf(e, v)));
      else p.hmgetBuffer(keyOf(e, 0), ...Array.from({ length: s.views }, (_, v) => `v${v}@1`));
    }
    const res = (await p.exec())!;
    for (const [, vals] of res) for (const x of vals as (Buffer | null)[]) if (x) found++;
  }
  const readMs = (performance.now() - t0) / BATCHES;
  if (found !== BATCHES * 100 * s.views) throw new Error(`read back ${found} rows, expected ${BATCHES * 100 * s.views}`);
  return {
    scenario: s.name,
    layout,
    entities: ENTITIES,
    rowBytes: enc.encode(0, 0, values).length,
    writeRowsPerSec: Math.round((ENTITIES * s.views) / writeS),
    bytesPerEntity: Math.round(mem / ENTITIES),
    readBatch100Ms: Number(readMs.toFixed(3)),
  };
}

const server = await startRedis();
const r = new Redis(server.url);
const results = [];
try {
  for (const s of scenarios) {
    for (const layout of ['string', 'hash'] as const) {
      const res = await runScenario(r, s, layout);
      console.log(JSON.stringify(res));
      results.push(res);
    }
    const res = await runFieldPerFeature(r, s);
    console.log(JSON.stringify(res));
    results.push(res);
  }
} finally {
  r.disconnect();
  await server.stop();
}
mkdirSync('bench/results', { recursive: true });
const date = new Date().toISOString().slice(0, 10);
writeFileSync(`bench/results/online-layout-${date}.json`, JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2));
