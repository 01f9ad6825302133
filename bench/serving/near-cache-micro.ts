/**
 * The near cache's read path in process, against a real redis-server (the harness's): time per
 * read of N entities x V views when every row is cached (no Redis round trip) against the
 * direct MGET read, closed loop. node --import tsx bench/serving/near-cache-micro.ts [--cold]
 *
 * --cold: before each timed read, 64 MB are walked through to push the index, the entries and
 * everything else out of the CPU caches, as the other processes on a serving box do between two
 * requests; only the reads are timed (wall; the CPU time then includes the walks, so it is not
 * printed).
 */
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { startRedis } from '../../test/support/redis-server.ts';
import { ENTITIES, PROJECT, benchRows, serviceViews } from './fixture.ts';
import { EntityKeyEncoder } from '../../src/online/entity-key.ts';

const COLD = process.argv.includes('--cold');
const evictBytes = new Uint8Array(64 << 20);
let evictSum = 0;
/** Walks `evictBytes` a cache line at a time, writing, so the CPU caches hold it instead of what the reads use. */
function evictCaches(): void {
  for (let i = 0; i < evictBytes.length; i += 64) evictSum += evictBytes[i]++;
}

const redis = await startRedis();
try {
  const writer = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  for (const batch of benchRows(Date.now())) await writer.writeRows(batch);
  await writer.close();
  const plain = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  const near = await RedisOnlineStore.create({ url: redis.url, project: PROJECT, nearCacheBytes: 256 << 20 });
  const keys = new EntityKeyEncoder([{ name: 'driver_id', type: 'int64' }]);
  const views = serviceViews();
  // Fill the cache with every entity of the 25 views first (about what a long bench run holds),
  // so lookups meet full tables.
  const all = keys.encodeColumns([Array.from({ length: ENTITIES }, (_, i) => i)], ENTITIES);
  await near.readSpans({ views: views.fs_250, entityKeys: views.fs_250.map(() => all) }, new Int32Array(2 * views.fs_250.length * ENTITIES));
  for (const [name, service, n] of [['100x50', 'fs_50', 100], ['500x10', 'fs_10', 500], ['1x50', 'fs_50', 1]] as const) {
    // 256 requests of random ids, as the serving bench draws them: lookups all over the tables.
    let x = 42;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % ENTITIES);
    const batches = Array.from({ length: 256 }, () => {
      const entities = keys.encodeColumns([Array.from({ length: n }, rnd)], n);
      return { views: views[service], entityKeys: views[service].map(() => entities) };
    });
    const spans = new Int32Array(2 * views[service].length * n);
    for (const [label, store] of [['direct MGET', plain], ['near cache (all cached)', near]] as const) {
      for (let i = 0; i < 300; i++) await store.readSpans(batches[i & 255], spans);
      if (COLD) {
        const iters = n === 1 ? 2000 : 500;
        let ns = 0;
        for (let i = 0; i < iters; i++) {
          evictCaches();
          const t0 = process.hrtime.bigint();
          await store.readSpans(batches[i & 255], spans);
          ns += Number(process.hrtime.bigint() - t0);
        }
        console.log(`${name.padEnd(7)} ${label.padEnd(24)} cold caches: wall ${(ns / iters / 1000).toFixed(1)} µs per read`);
        continue;
      }
      const iters = n === 1 ? 20000 : 2000;
      const t = performance.now();
      const cpu = process.cpuUsage();
      for (let i = 0; i < iters; i++) await store.readSpans(batches[i & 255], spans);
      const wall = ((performance.now() - t) / iters) * 1000;
      const u = process.cpuUsage(cpu);
      console.log(`${name.padEnd(7)} ${label.padEnd(24)} wall ${wall.toFixed(1)} µs, client CPU ${((u.user + u.system) / iters).toFixed(1)} µs per read`);
    }
  }
  console.log('near cache', near.nearCacheStats(), COLD ? `(walk checksum ${evictSum & 0xff})` : '');
  await plain.close();
  await near.close();
} finally {
  await redis.stop();
}
