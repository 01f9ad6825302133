/**
 * What the near cache costs the garbage collector while it fills: random reads of 100 entities
 * x 25 views (the bench data: 175k rows) through a RedisOnlineStore with a near cache, starting empty,
 * against a real redis-server (the harness's), closed loop; every GC pause recorded through
 * perf_hooks. Figures: pauses by kind (count, total, largest), the JS heap after, and the
 * cache's entries. Run it with the serving bench's server flags:
 *   node --single-threaded-gc --no-memory-reducer --import tsx bench/serving/near-cache-gc.ts [reads]
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { startRedis } from '../../test/support/redis-server.ts';
import { ENTITIES, PROJECT, benchRows, serviceViews } from './fixture.ts';
import { EntityKeyEncoder } from '../../src/online/entity-key.ts';

const READS = Number(process.argv[2] ?? 1000);
const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

const redis = await startRedis();
try {
  const writer = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  for (const batch of benchRows(Date.now())) await writer.writeRows(batch);
  await writer.close();
  const near = await RedisOnlineStore.create({ url: redis.url, project: PROJECT, nearCacheBytes: 256 << 20 });
  const keys = new EntityKeyEncoder([{ name: 'driver_id', type: 'int64' }]);
  const views = serviceViews().fs_250;
  let x = 42;
  const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % ENTITIES);
  const spans = new Int32Array(2 * views.length * 100);
  const batch = () => {
    const entities = keys.encodeColumns([Array.from({ length: 100 }, rnd)], 100);
    return { views, entityKeys: views.map(() => entities) };
  };
  // JIT first, through a store of another project (no rows: every key is cached as absent),
  // so the measured cache starts empty.
  const warm = await RedisOnlineStore.create({ url: redis.url, project: 'warm', nearCacheBytes: 16 << 20 });
  for (let i = 0; i < 300; i++) await warm.readSpans(batch(), spans);
  await warm.close();
  global.gc?.();
  const pauses: Record<string, number[]> = {};
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) (pauses[KINDS[((e as unknown as { detail: { kind: number } }).detail).kind] ?? 'other'] ??= []).push(e.duration);
  });
  obs.observe({ entryTypes: ['gc'] });
  const t = performance.now();
  for (let i = 0; i < READS; i++) await near.readSpans(batch(), spans);
  const wall = performance.now() - t;
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  const s = near.nearCacheStats()!;
  console.log(`${READS} reads of 100 x 25 in ${(wall / 1000).toFixed(1)} s; cache ${s.entries} entries, ${(s.bytes / 1e6).toFixed(1)} MB, hit rate ${(s.hits / (s.hits + s.misses)).toFixed(3)}; JS heap used ${(process.memoryUsage().heapUsed / 1e6).toFixed(1)} MB`);
  for (const [kind, ms] of Object.entries(pauses)) {
    ms.sort((a, b) => a - b);
    const sum = ms.reduce((a, b) => a + b, 0);
    console.log(`  ${kind.padEnd(13)} ${String(ms.length).padStart(4)} pauses, total ${sum.toFixed(1)} ms, largest ${ms[ms.length - 1].toFixed(2)} ms, median ${ms[ms.length >> 1].toFixed(2)} ms`);
  }
  await near.close();
} finally {
  await redis.stop();
}
