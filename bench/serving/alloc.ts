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
import { startRedis } from '../../test/support/redis-server.ts';
import { PROJECT, benchRows } from './fixture.ts';
import { HANDLER_SCENARIOS, handlerPath, handlerRequests } from './handler-path.ts';

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
  const call = handlerPath(store);
  const counts = [4000, 2000, 400, 200];
  for (const [s, [entities, fs]] of HANDLER_SCENARIOS.entries()) {
    const n = counts[s];
    const requests = handlerRequests(entities, fs);
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
