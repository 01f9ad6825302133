/**
 * What one serving read costs through ioredis, by the shape of the Redis commands, measured as
 * client CPU time (process.cpuUsage) and redis-server CPU time (/proc) per read, closed loop, one
 * read at a time, so machine noise matters little. For the online store owner: the serving
 * benchmark's 100 x 50 and 500 x 10 scenarios spend most of the server's CPU (and most of its
 * garbage) in the Redis read, and the floor server pays the same.
 *
 *   node --import tsx bench/serving/read-variants.ts
 *
 * Variants, for E entities x V views (all keyed by driver_id):
 *   adapter   RedisOnlineStore.readRows on a standalone server: one script call doing the E
 *             HMGETs inside Redis, one nested array reply (src/online/redis/read-script.ts)
 *   pipeline  one pipeline of E HMGETs (V fields each): the adapter's shape before 2026-11-28,
 *             and still its shape on a Redis Cluster
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { EntityKeyEncoder } from '../../src/online/entity-key.ts';
import { RecordKeys } from '../../src/online/redis/record-key.ts';
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
  const record = new RecordKeys('ps', PROJECT);
  const views = serviceViews();
  const redisPid = Number((await client.info('server')).match(/process_id:(\d+)/)![1]);

  for (const [e, service, reads] of [
    [1, 'fs_50', 4000],
    [100, 'fs_50', 400],
    [500, 'fs_10', 200],
  ] as const) {
    const ids = views[service];
    const entityKeys = Array.from({ length: e }, (_, i) => keys.encode([(i * 7919) % ENTITIES]));
    const variants: Record<string, () => Promise<unknown>> = {
      adapter: () => store.readRows({ views: ids, entityKeys: ids.map(() => entityKeys) }),
      pipeline: () => {
        const p = client.pipeline();
        for (const k of entityKeys) p.hmgetBuffer(record.key(k), ...ids);
        return p.exec();
      },
    };
    for (const [name, read] of Object.entries(variants)) {
      for (let i = 0; i < Math.min(200, reads); i++) await read();
      const c0 = process.cpuUsage();
      const r0 = cpuOf(redisPid);
      const t0 = performance.now();
      for (let i = 0; i < reads; i++) await read();
      const wall = (performance.now() - t0) / reads;
      const c = process.cpuUsage(c0);
      const rc = (cpuOf(redisPid) - r0) / reads;
      console.log(`${String(e).padStart(3)} x ${service.padEnd(6)} ${name.padEnd(8)} client CPU ${((c.user + c.system) / reads).toFixed(0).padStart(5)} µs/read, redis-server CPU ${rc.toFixed(0).padStart(4)} µs/read, wall ${(wall * 1000).toFixed(0).padStart(5)} µs/read`);
    }
  }
  client.disconnect();
  await store.close();
} finally {
  await redis.stop();
}
