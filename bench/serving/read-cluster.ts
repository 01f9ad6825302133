/**
 * The Redis Cluster read, by command shape: client CPU (process.cpuUsage), the masters' CPU
 * (/proc, 10 ms ticks, so ±~30 µs at these read counts) and wall time per read,
 * closed loop, one read at a time, on a local 3-master cluster (test/support/redis-server.ts),
 * three rounds with the variants alternating, the best round of each printed.
 *
 *   node --import tsx bench/serving/read-cluster.ts
 *
 * Variants, for E entities x V views (all keyed by driver_id):
 *   direct    RedisOnlineStore.readSpans on the cluster (the default): one write per master over
 *             its direct connection, an MGET per entity, replies parsed in place
 *             (src/online/redis/read-connection.ts `mgetMany`)
 *   script    the same with `directReads: false`: one read-script call per master through ioredis
 *             (keys packed in one argument, src/online/redis/read-script.ts)
 *   pipeline  one pipeline of E MGETs per master (one per entity; the shape of the adapter's cluster
 *             read before 2026-12-06, on storage format 2)
 *   near      `direct` with a near cache (`nearCacheBytes`, a tracker per master): every row cached
 *             by the warm-up reads, so no master is asked
 */
import { readFileSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { EntityKeyEncoder, EntityKeyList } from '../../src/online/entity-key.ts';
import { RowKeys } from '../../src/online/redis/row-key.ts';
import { startRedisCluster } from '../../test/support/redis-server.ts';
import { ENTITIES, PROJECT, benchRows, serviceViews } from './fixture.ts';

const cluster = await startRedisCluster(3);
try {
  const seeds = cluster.seeds.split(',');
  const store = await RedisOnlineStore.create({ clusterNodes: seeds, project: PROJECT });
  const scripted = await RedisOnlineStore.create({ clusterNodes: seeds, project: PROJECT, directReads: false });
  const near = await RedisOnlineStore.create({ clusterNodes: seeds, project: PROJECT, nearCacheBytes: 256 << 20 });
  for (const batch of benchRows(Date.now())) await store.writeRows(batch);
  // The adapter's client options, so only the command shape differs.
  const client = new Cluster(
    seeds.map((s) => ({ host: s.split(':')[0], port: Number(s.split(':')[1]) })),
    { enableOfflineQueue: true, redisOptions: { maxRetriesPerRequest: 0, commandTimeout: 1000 } },
  );
  await client.ping();
  // redis-server CPU of the three masters, from /proc (10 ms ticks).
  const pids = await Promise.all(client.nodes('master').map(async (n) => Number((await n.info('server')).match(/process_id:(\d+)/)![1])));
  const redisCpu = () =>
    pids.reduce((sum, pid) => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return sum + (Number(f[11]) + Number(f[12])) * 10_000;
    }, 0);
  const keys = new EntityKeyEncoder([{ name: 'driver_id', type: 'int64' }]);
  const rowKeys = new RowKeys('ps', PROJECT);
  const views = serviceViews();
  for (const [e, service, reads] of [
    [1, 'fs_50', 3000],
    [100, 'fs_50', 300],
    [500, 'fs_10', 150],
  ] as const) {
    const ids = views[service];
    const spans = new Int32Array(2 * e * ids.length);
    const entityKeys = Array.from({ length: e }, (_, i) => keys.encode([(i * 7919) % ENTITIES]));
    const keyList = EntityKeyList.of(entityKeys);
    const variants: Record<string, () => Promise<unknown>> = {
      direct: () => store.readSpans({ views: ids, entityKeys: ids.map(() => keyList) }, spans),
      script: () => scripted.readSpans({ views: ids, entityKeys: ids.map(() => keyList) }, spans),
      near: () => near.readSpans({ views: ids, entityKeys: ids.map(() => keyList) }, spans),
      pipeline: () => {
        const byNode = new Map<string, ReturnType<Cluster['pipeline']>>();
        for (const k of entityKeys) {
          const node = client.slots[rowKeys.slot(k)][0];
          let p = byNode.get(node);
          if (!p) byNode.set(node, (p = client.pipeline()));
          p.mgetBuffer(ids.map((v) => rowKeys.key(v, k)));
        }
        return Promise.all([...byNode.values()].map((p) => p.exec()));
      },
    };
    const best: Record<string, { client: number; redis: number; wall: number }> = {};
    for (let round = 0; round < 3; round++) {
      for (const [name, read] of Object.entries(variants)) {
        for (let i = 0; i < Math.min(100, reads); i++) await read();
        const c0 = process.cpuUsage();
        const r0 = redisCpu();
        const t0 = performance.now();
        for (let i = 0; i < reads; i++) await read();
        const wall = ((performance.now() - t0) / reads) * 1000;
        const c = process.cpuUsage(c0);
        const cpu = (c.user + c.system) / reads;
        const redis = (redisCpu() - r0) / reads;
        if (!best[name] || cpu + redis < best[name].client + best[name].redis) best[name] = { client: cpu, redis, wall };
      }
    }
    for (const [name, b] of Object.entries(best)) {
      console.log(`${String(e).padStart(3)} x ${service.padEnd(6)} ${name.padEnd(8)} client CPU ${b.client.toFixed(0).padStart(5)} µs/read, redis-server CPU (3 masters) ${b.redis.toFixed(0).padStart(5)} µs/read, wall ${b.wall.toFixed(0).padStart(5)} µs/read`);
    }
  }
  client.disconnect();
  const n = near.nearCacheStats()!;
  console.log(`near cache: ${n.hits} hits, ${n.misses} misses, ${n.clears} clears`);
  await store.close();
  await scripted.close();
  await near.close();
} finally {
  await cluster.stop();
}
