/**
 * Redis over loopback TCP against Redis over its Unix socket (`unix://`, docs/online.md), for
 * pitstop's own read connection: one redis-server listening on both, one connection each,
 * closed-loop MGETs of 50 and 500 keys (100-byte values) in alternating rounds (the first a
 * warm-up), each round's mean round trip, this process's CPU and redis-server's CPU per MGET
 * (/proc, 10 ms ticks).
 *   node --import tsx bench/serving/redis-socket.ts
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis-server.ts';
import { RedisReadConnection, encodeMget } from '../../src/online/redis/read-connection.ts';

const server = await startRedis({ unixSocket: true });
const admin = new Redis(server.url);
const val = Buffer.alloc(100, 7);
for (let i = 0; i < 10000; i++) await admin.set(`k:${i}`, val);
const pid = Number(String(await admin.info('server')).match(/process_id:(\d+)/)![1]);
const ticks = (p: number | 'self') => { const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
const tcp = await RedisReadConnection.connect({ url: server.url, connectTimeoutMs: 1000, commandTimeoutMs: 1000 });
const unix = await RedisReadConnection.connect({ url: `unix://${server.socketPath}`, connectTimeoutMs: 1000, commandTimeoutMs: 1000 });
for (const n of [50, 500]) {
  const keys = Array.from({ length: n }, (_, i) => Buffer.from(`k:${(i * 7) % 14000}`));
  const cmd = encodeMget(keys);
  const spans = new Int32Array(2 * n);
  const res: Record<string, { us: number[]; cpu: number[]; rcpu: number[] }> = { tcp: { us: [], cpu: [], rcpu: [] }, unix: { us: [], cpu: [], rcpu: [] } };
  for (let round = 0; round < 6; round++) {
    for (const [name, c] of [['tcp', tcp], ['unix', unix]] as const) {
      const iters = n === 50 ? 20000 : 4000;
      const c0 = ticks('self'), r0 = ticks(pid), t0 = performance.now();
      for (let i = 0; i < iters; i++) await c.mget(cmd, n, spans);
      const t = performance.now() - t0;
      if (round === 0) continue; // warm-up
      res[name].us.push((t * 1000) / iters);
      res[name].cpu.push(((ticks('self') - c0) * 10000) / iters);
      res[name].rcpu.push(((ticks(pid) - r0) * 10000) / iters);
    }
  }
  const f = (a: number[]) => a.map((x) => x.toFixed(1)).join(' ');
  for (const name of ['tcp', 'unix']) console.log(`${n} keys ${name}: round trip µs ${f(res[name].us)}; node CPU µs ${f(res[name].cpu)}; redis CPU µs ${f(res[name].rcpu)}`);
}
await tcp.close(); await unix.close(); admin.disconnect(); await server.stop();
