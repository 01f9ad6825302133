/**
 * Paired A/B of pitstop's handler path (handler-path.ts) between another checkout and this one,
 * in ONE process against one redis-server: rounds alternate A-B and B-A, and the per-round ratio
 * of CPU per request (this / other) is reported as a median. On a VM whose speed drifts by tens
 * of percent from one minute to the next, separate processes run minutes apart could not tell a
 * 15% change from noise (2026-12-06 23:40); pairs of rounds seconds apart can. Both versions
 * share the process's heap, so each one's garbage is collected partly on the other's time: a
 * difference in allocation shows diluted.
 *
 *   git worktree add /tmp/base <commit>   (copy bench/serving/handler-path.ts in if it predates it)
 *   ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   node --import tsx bench/serving/handler-ab.ts /tmp/base [--rounds N]
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { startRedis } from '../../test/support/redis-server.ts';
import { PROJECT, benchRows } from './fixture.ts';
import { HANDLER_SCENARIOS, handlerPath, handlerRequests } from './handler-path.ts';

const other = process.argv[2];
if (!other) throw new Error('usage: handler-ab.ts <other checkout> [--rounds N]');
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(process.argv[roundsArg + 1]) : 12;
const load = (rel: string) => import(pathToFileURL(path.resolve(other, rel)).href);
const { RedisOnlineStore: OtherStore } = await load('src/online/redis/redis-store.ts');
const { handlerPath: otherPath } = await load('bench/serving/handler-path.ts');

const redis = await startRedis();
try {
  const writer = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  for (const batch of benchRows(Date.now())) await writer.writeRows(batch);
  await writer.close();
  const otherStore = await OtherStore.create({ url: redis.url, project: PROJECT });
  const thisStore = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  const a: (b: Buffer) => Promise<number> = otherPath(otherStore);
  const b = handlerPath(thisStore);
  const counts = [2000, 1000, 300, 200];
  for (const [s, [entities, fs]] of HANDLER_SCENARIOS.entries()) {
    const n = counts[s];
    const pool = handlerRequests(entities, fs);
    for (const call of [a, b]) for (let i = 0; i < 400; i++) await call(pool[i % pool.length]);
    const cpu = async (call: typeof a) => {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) await call(pool[i % pool.length]);
      const d = process.cpuUsage(c0);
      return (d.user + d.system) / n;
    };
    const ra: number[] = [];
    const rb: number[] = [];
    const ratio: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let x: number;
      let y: number;
      if (r % 2 === 0) {
        x = await cpu(a);
        y = await cpu(b);
      } else {
        y = await cpu(b);
        x = await cpu(a);
      }
      ra.push(x);
      rb.push(y);
      ratio.push(y / x);
    }
    const med = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1];
    console.log(`${entities} x ${fs}: other ${Math.round(med(ra))} µs, this ${Math.round(med(rb))} µs CPU per request; this/other per pair: median ${med(ratio).toFixed(2)} (${Math.min(...ratio).toFixed(2)}-${Math.max(...ratio).toFixed(2)}), ${ROUNDS} pairs`);
  }
  await otherStore.close();
  await thisStore.close();
} finally {
  await redis.stop();
}
