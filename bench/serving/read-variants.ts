/**
 * What one serving read costs through ioredis, by the shape of the Redis commands, measured as
 * client CPU time (process.cpuUsage) and redis-server CPU time (/proc) per read, closed loop, one
 * read at a time, so machine noise matters little; three rounds with the variants alternating,
 * the best round (lowest client + server CPU) of each printed. For the online store owner: the serving
 * benchmark's 100 x 50 and 500 x 10 scenarios spend most of the server's CPU (and most of its
 * garbage) in the Redis read, and the floor server pays the same.
 *
 *   node --import tsx bench/serving/read-variants.ts
 *
 * Variants, for E entities x V views (all keyed by driver_id):
 *   adapter   RedisOnlineStore.readRows on a standalone server: one script call doing the E
 *             HMGETs inside Redis, answered as one MessagePack bulk string
 *             (src/online/redis/read-script.ts)
 *   spans     RedisOnlineStore.readSpans (what serving calls): the same read, rows left as spans
 *             of the reply instead of one Buffer view each
 *   nested    the same script answering nested arrays (one reply value per row)
 *   pipeline  one pipeline of E HMGETs (V fields each): the adapter's shape before 2026-11-28,
 *             and still its shape on a Redis Cluster
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { EntityKeyEncoder } from '../../src/online/entity-key.ts';
import { RowKeys } from '../../src/online/redis/row-key.ts';
import { startRedis } from '../../test/support/redis-server.ts';
import { ENTITIES, PROJECT, benchRows, serviceViews } from './fixture.ts';

const redis = await startRedis();
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000; // µs (clock ticks of 10 ms)
};
try {
  const store = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  for (const batch of benchRows(Date.now())) await store.writeRows(batch);
  // The adapter's client options (src/online/redis/redis-store.ts), so only the command shape differs.
  const client = new Redis(redis.url, { enableOfflineQueue: true, maxRetriesPerRequest: 0, commandTimeout: 1000, enableAutoPipelining: false });
  const keys = new EntityKeyEncoder([{ name: 'driver_id', type: 'int64' }]);
  const rowKeys = new RowKeys('ps', PROJECT);
  const views = serviceViews();
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
    const variants: Record<string, () => Promise<unknown>> = {
      adapter: () => store.readRows({ views: ids, entityKeys: ids.map(() => entityKeys) }),
      spans: () => store.readSpans({ views: ids, entityKeys: ids.map(() => entityKeys) }, spans),
      mget: () => client.mgetBuffer(rowKeysOf),
      pipeline: () => {
        const p = client.pipeline();
        for (const k of entityKeys) p.mgetBuffer(ids.map((v) => rowKeys.key(v, k)));
        return p.exec();
      },
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
} finally {
  await redis.stop();
}
