/**
 * Where pitstop's own handler path allocates, per request: the steps a gRPC GetOnlineFeatures
 * call runs in pitstop's code (direct request decoder, lookup with the real Redis adapter,
 * response encoder, metrics), closed loop in process, under V8's sampling heap profiler with
 * objects collected by minor and major GCs included, so it counts every allocation, not only
 * what survives. grpc-js and node:http2 are left out: the floor and the echo server pay them too.
 *
 *   node --import tsx bench/serving/alloc.ts [--top N]
 *
 * Prints bytes allocated per request by scenario, and the allocating functions (self bytes).
 */
import { Session } from 'node:inspector/promises';
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

const topArg = process.argv.indexOf('--top');
const TOP = topArg >= 0 ? Number(process.argv[topArg + 1]) : 12;

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  id: number;
  children: ProfileNode[];
}

const redis = await startRedis();
const session = new Session();
session.connect();
try {
  const store = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  for (const batch of benchRows(Date.now())) await store.writeRows(batch);
  const server = new PitstopServer({ holder: SnapshotHolder.fixed(benchSnapshot(), { log: () => {} }), reader: store, grpcPort: -1, httpPort: -1, limits: { maxEntities: 1000, maxFeatures: 1000, maxMessageBytes: 8 << 20 }, log: () => {} });
  const m = servingMethods().GetOnlineFeatures;
  const { service, metrics } = server;

  for (const [entities, fs, n] of [
    [1, 'fs_50', 4000],
    [1, 'fs_250', 2000],
    [100, 'fs_50', 400],
    [500, 'fs_10', 200],
  ] as const) {
    const requests = Array.from({ length: 64 }, (_, r) =>
      m.requestSerialize(PitstopClient.requestMessage({ featureService: fs, entities: { driver_id: Array.from({ length: entities }, (_, i) => (r * 7919 + i * 104729) % ENTITIES) } })),
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
    for (let i = 0; i < 300; i++) await call(requests[i % requests.length]);
    await session.post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true } as never);
    for (let i = 0; i < n; i++) await call(requests[i % requests.length]);
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
    const self = new Map<string, number>();
    let total = 0;
    const walk = (node: ProfileNode) => {
      const f = node.callFrame;
      const where = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src)\//, '$1/').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`;
      if (node.selfSize) self.set(where, (self.get(where) ?? 0) + node.selfSize);
      total += node.selfSize;
      for (const c of node.children) walk(c);
    };
    walk(profile.head);
    console.log(`\n${entities} x ${fs}: ${Math.round(total / n).toLocaleString('en-US')} bytes allocated per request (sampled, ${n} requests)`);
    for (const [where, bytes] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${String(Math.round(bytes / n)).padStart(8)} B  ${where}`);
  }
  await store.close();
} finally {
  session.disconnect();
  await redis.stop();
}
