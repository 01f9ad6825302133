/**
 * CPU per request of pitstop's own handler path against a real redis-server, in process and
 * closed loop: the steps a gRPC GetOnlineFeatures call runs in pitstop's code (direct request
 * decoder, lookup with the Redis adapter, response encoder, metrics), as in alloc.ts, timed
 * instead of heap-sampled. grpc-js and node:http2 are left out (the floor pays them too), and
 * redis-server's own CPU is in another process, so the figure is what pitstop adds per call.
 * Rounds alternate the scenarios; the median round is printed beside the spread.
 *
 *   node --import tsx bench/serving/handler-cpu.ts [--rounds N]
 */
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { PitstopServer } from '../../src/serving/server.ts';
import { SnapshotHolder } from '../../src/serving/snapshot-holder.ts';
import { decodeGetOnlineFeaturesRequest } from '../../src/serving/request-decoder.ts';
import { encodeResponse } from '../../src/serving/response-encoder.ts';
import { servingMethods } from '../../src/serving/proto.ts';
import { PitstopClient } from '../../src/client/client.ts';
import { Cancellation } from '../../src/serving/cancellation.ts';
import { startRedis } from '../../test/support/redis-server.ts';
import { ENTITIES, PROJECT, benchRows, benchSnapshot } from './fixture.ts';

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(process.argv[roundsArg + 1]) : 5;

const redis = await startRedis();
try {
  const store = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  for (const batch of benchRows(Date.now())) await store.writeRows(batch);
  const server = new PitstopServer({ holder: SnapshotHolder.fixed(benchSnapshot(), { log: () => {} }), reader: store, grpcPort: -1, httpPort: -1, limits: { maxEntities: 1000, maxFeatures: 1000, maxMessageBytes: 8 << 20 }, log: () => {} });
  const m = servingMethods().GetOnlineFeatures;
  const { service, metrics } = server;
  const scenarios = [
    [1, 'fs_50', 4000],
    [1, 'fs_250', 2000],
    [100, 'fs_50', 600],
    [500, 'fs_10', 300],
  ] as const;
  const pools = scenarios.map(([entities, fs]) =>
    Array.from({ length: 64 }, (_, r) =>
      m.requestSerialize(PitstopClient.requestMessage({ featureService: fs, entities: { driver_id: Array.from({ length: entities }, (_, i) => (r * 7919 + i * 104729) % ENTITIES) } })),
    ),
  );
  // What the gRPC handler runs for one call (src/serving/grpc-server.ts, grpc-adapter.ts).
  const call = async (buf: Buffer) => {
    const started = performance.now();
    const req = decodeGetOnlineFeaturesRequest(buf);
    const res = await service.getOnlineFeatures(req, new Cancellation());
    const bytes = encodeResponse(res);
    metrics.observe('grpc', 'GetOnlineFeatures', (performance.now() - started) / 1000, 'OK', service.serviceLabel(req.featureService));
    return bytes.length;
  };
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
