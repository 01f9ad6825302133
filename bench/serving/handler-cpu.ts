/**
 * CPU per request of pitstop's own handler path against a real redis-server, in process and
 * closed loop: the steps a gRPC GetOnlineFeatures call runs in pitstop's code (direct request
 * decoder, lookup with the Redis adapter, response encoder, metrics; handler-path.ts), timed
 * instead of heap-sampled. grpc-js and node:http2 are left out (the floor pays them too), and
 * redis-server's own CPU is in another process, so the figure is what pitstop adds per call.
 * Rounds alternate the scenarios; the median round is printed beside the spread.
 *
 *   node --import tsx bench/serving/handler-cpu.ts [--rounds N]
 */
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { startRedis } from '../../test/support/redis-server.ts';
import { PROJECT, benchRows } from './fixture.ts';
import { HANDLER_SCENARIOS, handlerPath, handlerRequests } from './handler-path.ts';

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(process.argv[roundsArg + 1]) : 5;

const redis = await startRedis();
try {
  const store = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  for (const batch of benchRows(Date.now())) await store.writeRows(batch);
  const call = handlerPath(store);
  const counts = [4000, 2000, 600, 300];
  const scenarios = HANDLER_SCENARIOS.map(([entities, fs], s) => [entities, fs, counts[s]] as const);
  const pools = scenarios.map(([entities, fs]) => handlerRequests(entities, fs));
  for (const pool of pools) for (let i = 0; i < 500; i++) await call(pool[i % pool.length]);
  const cpu: number[][] = scenarios.map(() => []);
  const wall: number[][] = scenarios.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let s = 0; s < scenarios.length; s++) {
      const n = scenarios[s][2];
      const pool = pools[s];
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await call(pool[i % pool.length]);
      const c = process.cpuUsage(c0);
      wall[s].push(((performance.now() - t0) * 1000) / n);
      cpu[s].push((c.user + c.system) / n);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (xs: number[]) => `${Math.round(med(xs))} µs (${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})`;
  for (let s = 0; s < scenarios.length; s++) {
    const [entities, fs] = scenarios[s];
    console.log(`${entities} x ${fs}: CPU ${fmt(cpu[s])} per request, wall ${fmt(wall[s])}; ${ROUNDS} rounds`);
  }
  await store.close();
} finally {
  await redis.stop();
}
