/**
 * What one serving read costs, by the shape of the Redis commands, measured as client CPU time
 * (process.cpuUsage) and redis-server CPU time (/proc, 10 ms ticks) per read, closed loop, one
 * read at a time, so machine noise matters little; three rounds with the variants alternating,
 * the best round (lowest client + server CPU) of each printed. For the online store owner: the
 * serving benchmark's 100 x 50 and 500 x 10 scenarios spend most of their time in the Redis
 * read, and the floor server pays the same.
 *
 *   node --import tsx bench/serving/read-variants.ts
 *
 * Variants, for E entities x V views (all keyed by driver_id):
 *   direct    RedisOnlineStore.readSpans on a standalone server (what serving calls): one MGET of
 *             the E x V row keys over the direct read connection, parsed in place
 *             (src/online/redis/read-connection.ts)
 *   script    the same through ioredis and the read script (`directReads: false`; the cluster
 *             read's shape): one call, an MGET per entity inside, one MessagePack reply
 *   ioredis   one MGET through ioredis (mgetBuffer): a Buffer per row from its parser
 *   format1   storage format 1 (before 2026-12-06): one hash per entity, its read script doing
 *             an HMGET per entity (V fields), answered as MessagePack, through ioredis
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { EntityKeyEncoder, EntityKeyList } from '../../src/online/entity-key.ts';
import { RowKeys } from '../../src/online/redis/row-key.ts';
import { startRedis } from '../../test/support/redis-server.ts';
import { ENTITIES, PROJECT, benchRows, serviceViews } from './fixture.ts';

/** Format 1's read script (src/online/redis/read-script.ts before 2026-12-06), for comparison. */
const FORMAT1_READ = `#!lua flags=no-writes
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
return cmsgpack.pack(out)`;

const redis = await startRedis();
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000; // µs (clock ticks of 10 ms)
};
try {
  const store = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  const scripted = await RedisOnlineStore.create({ url: redis.url, project: PROJECT, directReads: false });
  for (const batch of benchRows(Date.now())) await store.writeRows(batch);
  // The adapter's client options (src/online/redis/redis-store.ts), so only the command shape differs.
  const client = new Redis(redis.url, { enableOfflineQueue: true, maxRetriesPerRequest: 0, commandTimeout: 1000, enableAutoPipelining: false });
  const keys = new EntityKeyEncoder([{ name: 'driver_id', type: 'int64' }]);
  const rowKeys = new RowKeys('ps', PROJECT);
  const views = serviceViews();
  // Format 1's layout beside format 2's (other keys: `ps:bench:{entity}`, a field per view).
  for (const batch of benchRows(Date.now())) {
    const p = client.pipeline();
    for (const w of batch) p.hset(Buffer.concat([Buffer.from(`ps:${PROJECT}:{`), w.entity, Buffer.from('}')]), w.view, w.row);
    await p.exec();
  }
  client.defineCommand('format1Read', { lua: FORMAT1_READ });
  const redisPid = Number((await client.info('server')).match(/process_id:(\d+)/)![1]);

  for (const [e, service, reads] of [
    [1, 'fs_50', 4000],
    [100, 'fs_50', 400],
    [500, 'fs_10', 200],
  ] as const) {
    const ids = views[service];
    const spans = new Int32Array(2 * e * ids.length);
    const entityKeys = Array.from({ length: e }, (_, i) => keys.encode([(i * 7919) % ENTITIES]));
    const rowKeysOf = ids.flatMap((v) => entityKeys.map((k) => rowKeys.key(v, k)));
    // Format 1's record keys packed per read, as its adapter did (4-byte length, key bytes).
    const head1 = Buffer.from(`ps:${PROJECT}:{`);
    const packed1 = () => {
      let bytes = 0;
      for (const k of entityKeys) bytes += 4 + head1.length + k.length + 1;
      const out = Buffer.allocUnsafe(bytes);
      let at = 0;
      for (const k of entityKeys) {
        out.writeUInt32BE(head1.length + k.length + 1, at);
        head1.copy(out, at + 4);
        out.set(k, at + 4 + head1.length);
        at += 4 + head1.length + k.length;
        out[at++] = 0x7d;
      }
      return out;
    };
    const keyList = EntityKeyList.of(entityKeys);
    const batch = { views: ids, entityKeys: ids.map(() => keyList) };
    const variants: Record<string, () => Promise<unknown>> = {
      direct: () => store.readSpans(batch, spans),
      script: () => scripted.readSpans(batch, spans),
      ioredis: () => client.mgetBuffer(rowKeysOf),
      format1: () => (client as any).format1ReadBuffer(0, packed1(), entityKeys.length, ids.length, ...ids),
    };
    // Three rounds, variants alternating, best round of each (the machine is shared).
    const best: Record<string, { client: number; redis: number; wall: number }> = {};
    for (let round = 0; round < 3; round++) {
      for (const [name, read] of Object.entries(variants)) {
        for (let i = 0; i < Math.min(200, reads); i++) await read();
        const c0 = process.cpuUsage();
        const r0 = cpuOf(redisPid);
        const t0 = performance.now();
        for (let i = 0; i < reads; i++) await read();
        const wall = ((performance.now() - t0) / reads) * 1000;
        const c = process.cpuUsage(c0);
        const client = (c.user + c.system) / reads;
        const rc = (cpuOf(redisPid) - r0) / reads;
        if (!best[name] || client + rc < best[name].client + best[name].redis) best[name] = { client, redis: rc, wall };
      }
    }
    for (const [name, b] of Object.entries(best)) {
      console.log(`${String(e).padStart(3)} x ${service.padEnd(6)} ${name.padEnd(8)} client CPU ${b.client.toFixed(0).padStart(5)} µs/read, redis-server CPU ${b.redis.toFixed(0).padStart(4)} µs/read, wall ${b.wall.toFixed(0).padStart(5)} µs/read`);
    }
  }
  client.disconnect();
  await store.close();
  await scripted.close();
} finally {
  await redis.stop();
}
