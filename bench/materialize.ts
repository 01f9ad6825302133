/**
 * Materialization throughput: N entities × one view of 50 features into a redis-server this
 * bench starts itself, through `materialize()` (Arrow batches → column-wise row encoding →
 * newer-wins Lua script writes, bounded in flight), beside a floor measured in the same run:
 * raw pipelined SETs of rows of the same size with ioredis (no Lua, no encoding), on the same
 * keys as storage format 2 (one string per row).
 *
 * The offline side is an in-process OfflineReader yielding ready Arrow batches, so the figure is
 * the online half of materialization (DuckDB scan time is the offline bench's business).
 *
 *   npm run bench:materialize [-- --quick] [-- --entities N] [-- --no-floor]
 */
import { Redis } from 'ioredis';
import os from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Field, Float32, Float64, Int32, Int64, RecordBatch, Schema, Struct, makeData, type Data, type DataType } from 'apache-arrow';
import { startRedis } from '../test/support/redis-server.ts';
import { buildSnapshot } from '../test/support/snapshot.ts';
import { RedisOnlineStore } from '../src/online/redis/redis-store.ts';
import { RowEncoder } from '../src/online/row-codec.ts';
import { EntityKeyEncoder } from '../src/online/entity-key.ts';
import { RowKeys } from '../src/online/redis/row-key.ts';
import { materialize } from '../src/materialize/materialize.ts';
import { CREATED_TS_MS_COLUMN, EVENT_TS_MS_COLUMN, type OfflineReader } from '../src/offline/ports.ts';
import type { FeatureType } from '../src/core/feature-types.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const at = argv.indexOf('--entities');
const N = at >= 0 ? Number(argv[at + 1]) : quick ? 100_000 : 1_000_000;
const BATCH = 16_384;

// 50 features: 30 float64, 10 int64, 5 int32, 5 float32.
const types: FeatureType[] = [...Array(30).fill('float64'), ...Array(10).fill('int64'), ...Array(5).fill('int32'), ...Array(5).fill('float32')];
const features = Object.fromEntries(types.map((t, i) => [`f${i}`, t]));
const snapshot = buildSnapshot({ project: 'bench', views: [{ name: 'bench_view', entities: { e: { id: 'int64' } }, source: { path: 'unused.parquet' }, ttlMs: 86_400_000, features }] });
const view = snapshot.featureViews.bench_view.versions[0];

function arrowType(t: FeatureType): DataType {
  return t === 'float64' ? new Float64() : t === 'float32' ? new Float32() : t === 'int32' ? new Int32() : new Int64();
}

// Feature columns are built once and reused by every batch (the bench measures the online side).
const featureData: Data[] = types.map((t, k) => {
  const type = arrowType(t);
  const values = t === 'float64' ? Float64Array.from({ length: BATCH }, (_, i) => i * 0.37 + k)
    : t === 'float32' ? Float32Array.from({ length: BATCH }, (_, i) => (i % 1000) * 0.5)
    : t === 'int32' ? Int32Array.from({ length: BATCH }, (_, i) => i * 7 + k)
    : BigInt64Array.from({ length: BATCH }, (_, i) => BigInt(i * 1000 + k));
  return makeData({ type: type as never, length: BATCH, nullCount: 0, data: values as never });
});
const fields = [new Field('id', new Int64(), false), new Field(EVENT_TS_MS_COLUMN, new Int64(), false), new Field(CREATED_TS_MS_COLUMN, new Int64(), true), ...types.map((t, i) => new Field(`f${i}`, arrowType(t), true))];
const schema = new Schema(fields);
const T = 1_700_000_000_000;
const sampleValues = types.map((t, i) => (t === 'int64' ? BigInt(i * 1000) : t === 'int32' ? i * 7 : i * 0.37));

const syntheticOffline: OfflineReader = {
  async *readLatest() {
    for (let start = 0; start < N; start += BATCH) {
      const len = Math.min(BATCH, N - start);
      const ids = BigInt64Array.from({ length: len }, (_, i) => BigInt(start + i));
      const ev = BigInt64Array.from({ length: len }, (_, i) => BigInt(T + ((start + i) % 3600) * 1000));
      const cr = makeData({ type: new Int64(), length: len, nullCount: len, data: new BigInt64Array(len), nullBitmap: new Uint8Array((len + 7) >> 3) });
      const children = [makeData({ type: new Int64(), length: len, nullCount: 0, data: ids }), makeData({ type: new Int64(), length: len, nullCount: 0, data: ev }), cr, ...featureData.map((d) => d.slice(0, len))];
      yield new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: len, nullCount: 0, children }));
    }
  },
  async close() {},
};

/** Samples RSS every 50 ms; returns peak and a few points along the way. */
function rssSampler() {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  return { stop: () => (clearInterval(timer), peak), peek: () => Math.max(peak, process.memoryUsage.rss()) };
}

const MB = (b: number) => Math.round(b / 1048576);
const round2 = (x: number) => Number(x.toFixed(2));
const usedMemory = async (r: Redis) => Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1]);
/** CPU seconds the redis-server process has used so far (user + sys, INFO cpu). */
async function redisCpuSec(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
}
/** CPU seconds this Node process has used so far (user + sys). */
const nodeCpuSec = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const loadNow = () => os.loadavg().map((x) => Number(x.toFixed(2)));

/**
 * Microseconds Redis spent executing client commands so far (INFO commandstats). Commands a Lua
 * script calls are counted inside EVALSHA/EVAL and again under their own names, so when scripts
 * ran only EVALSHA/EVAL are summed.
 */
async function redisCommandUsec(r: Redis): Promise<number> {
  const stats = [...(await r.info('commandstats')).matchAll(/cmdstat_(\w+):calls=\d+,usec=(\d+)/g)].map((m) => [m[1], Number(m[2])] as const);
  const scripts = stats.filter(([c]) => c === 'evalsha' || c === 'eval');
  return (scripts.length ? scripts : stats).reduce((a, [, u]) => a + u, 0);
}

async function floor(redis: Redis): Promise<{ rowsPerSec: number; peakRssMb: number; nodeCpuSec: number; redisCpuSec: number }> {
  const c0 = nodeCpuSec();
  const r0 = await redisCpuSec(redis);
  const enc = new RowEncoder(view.features);
  const sample = Buffer.from(enc.encode(T, null, sampleValues));
  const keys = new EntityKeyEncoder(view.joinKeys);
  const rowKeys = new RowKeys('ps', 'bench');
  const sampler = rssSampler();
  const t0 = performance.now();
  const inflight = new Set<Promise<unknown>>();
  for (let s = 0; s < N; s += 2048) {
    const p = redis.pipeline();
    for (let i = s; i < Math.min(N, s + 2048); i++) {
      p.set(rowKeys.key('bench_view@1', keys.encode([i])), sample);
    }
    const done: Promise<unknown> = p.exec().finally(() => inflight.delete(done));
    inflight.add(done);
    while (inflight.size >= 4) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const secs = (performance.now() - t0) / 1000;
  return { rowsPerSec: Math.round(N / secs), peakRssMb: MB(sampler.stop()), nodeCpuSec: round2(nodeCpuSec() - c0), redisCpuSec: round2((await redisCpuSec(redis)) - r0) };
}

const server = await startRedis();
const redis = new Redis(server.url);
try {
  const load = os.loadavg();
  const rssStart = process.memoryUsage.rss();
  await redis.config('RESETSTAT');
  // --no-floor skips the floor (for profiling the materialize phase alone); figures then say 0.
  const f = argv.includes('--no-floor') ? { rowsPerSec: 0, peakRssMb: 0, nodeCpuSec: 0, redisCpuSec: 0 } : await floor(redis);
  const floorRedisSec = (await redisCommandUsec(redis)) / 1e6;
  const floorRedisMb = MB(await usedMemory(redis));
  console.log(`load average at start: ${load.map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`floor (raw pipelined SET of a same-size row, no Lua, no expiry): ${f.rowsPerSec} rows/s, peak RSS ${f.peakRssMb} MB, redis used ${floorRedisMb} MB; CPU: node ${f.nodeCpuSec} s, redis-server ${f.redisCpuSec} s`);
  await redis.flushall();
  await redis.config('RESETSTAT');

  const rpsAt = argv.indexOf('--rows-per-script');
  // The Node side alone: the same materialize() into a writer that discards the rows.
  const tNull = performance.now();
  const cNull = nodeCpuSec();
  await materialize([view], { startMs: 0, endMs: T * 2 }, { offline: syntheticOffline, online: { writeRows: async (rows) => ({ written: rows.length, stale: 0 }), close: async () => {} } }, { batchRows: BATCH });
  const nodeOnlyRowsPerSec = Math.round(N / ((performance.now() - tNull) / 1000));
  const nodeOnlyCpuUsPerRow = round2(((nodeCpuSec() - cNull) * 1e6) / N);
  console.log(`materialize into a discarding writer (Node side only: Arrow → rows): ${nodeOnlyRowsPerSec} rows/s, node CPU ${nodeOnlyCpuUsPerRow} µs/row`);

  const store = await RedisOnlineStore.create({ url: server.url, project: 'bench', commandTimeoutMs: 10_000, rowsPerScript: rpsAt >= 0 ? Number(argv[rpsAt + 1]) : undefined });
  const sampler = rssSampler();
  const rssAt: number[] = [];
  let written = 0;
  let nextMark = N / 4;
  const c0 = nodeCpuSec();
  const r0 = await redisCpuSec(redis);
  const t0 = performance.now();
  const [res] = await materialize([view], { startMs: 0, endMs: T * 2 }, {
    offline: syntheticOffline,
    online: store,
    progress: {
      viewStarted() {},
      viewFinished() {},
      rowsWritten(_v, n) {
        written += n;
        if (written >= nextMark) {
          rssAt.push(MB(sampler.peek()));
          nextMark += N / 4;
        }
      },
    },
  }, { batchRows: BATCH });
  const secs = (performance.now() - t0) / 1000;
  const matNodeCpu = round2(nodeCpuSec() - c0);
  const matRedisCpu = round2((await redisCpuSec(redis)) - r0);
  const loadEnd = loadNow();
  const peak = MB(sampler.stop());
  const rowsPerSec = Math.round(res.rows / secs);
  const redisMb = MB(await usedMemory(redis));
  const redisSec = (await redisCommandUsec(redis)) / 1e6;
  await store.close();
  const keys = await redis.dbsize();
  if (keys !== N || res.written !== N) throw new Error(`expected ${N} records written, got dbsize ${keys}, written ${res.written}`);
  console.log(`materialize: ${res.rows} rows in ${secs.toFixed(2)} s = ${rowsPerSec} rows/s, peak RSS ${peak} MB (RSS at 25/50/75/100%: ${rssAt.join(', ')} MB), redis used ${redisMb} MB`);
  console.log(`CPU: floor node ${f.nodeCpuSec} s + redis-server ${f.redisCpuSec} s; materialize node ${matNodeCpu} s (${round2((matNodeCpu * 1e6) / N)} µs/row) + redis-server ${matRedisCpu} s (${round2((matRedisCpu * 1e6) / N)} µs/row); load average at end: ${loadEnd.join(' ')}`);
  console.log(`redis time executing commands: floor ${floorRedisSec.toFixed(2)} s, materialize ${redisSec.toFixed(2)} s (the Lua newer-wins check and expiry)`);
  console.log(`ratio to floor: ${(rowsPerSec / f.rowsPerSec).toFixed(2)} (goal >= 0.5); goal >= 100k rows/s: ${rowsPerSec >= 100_000 ? 'met' : 'NOT met'}`);
  const result = {
    bench: 'materialize',
    date: new Date().toISOString(),
    entities: N,
    features: 50,
    featureTypes: '30 float64, 10 int64, 5 int32, 5 float32',
    rowBytes: Buffer.from(new RowEncoder(view.features).encode(T, null, sampleValues)).length,
    machine: { cpus: os.cpus().length, loadAvgAtStart: load.map((x) => Number(x.toFixed(2))), loadAvgAtEnd: loadEnd, node: process.version, redis: (await redis.info('server')).match(/redis_version:(\S+)/)?.[1] },
    redisCommandSeconds: { floor: Number(floorRedisSec.toFixed(2)), materialize: Number(redisSec.toFixed(2)) },
    floor: { what: 'raw pipelined SET (one per row on its format 2 key, no Lua, no expiry) of a same-size pre-encoded row, 2048 rows per pipeline, 4 in flight', rowsPerSec: f.rowsPerSec, peakRssMb: f.peakRssMb, redisUsedMb: floorRedisMb, nodeCpuSec: f.nodeCpuSec, redisServerCpuSec: f.redisCpuSec },
    materialize: { rowsPerSec, seconds: Number(secs.toFixed(2)), nodeCpuSec: matNodeCpu, redisServerCpuSec: matRedisCpu, peakRssMb: peak, rssMbAtQuarters: rssAt, rssMbAtStart: MB(rssStart), redisUsedMb: redisMb, written: res.written },
    nodeSideOnlyRowsPerSec: nodeOnlyRowsPerSec,
    nodeSideOnlyCpuUsPerRow: nodeOnlyCpuUsPerRow,
    ratioToFloor: Number((rowsPerSec / f.rowsPerSec).toFixed(2)),
    goals: { rowsPerSec100k: rowsPerSec >= 100_000, halfOfFloor: rowsPerSec >= f.rowsPerSec / 2 },
  };
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/materialize-${result.date.slice(0, 10)}${N !== 1_000_000 ? `-${N}` : ''}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`results: ${file}`);
} finally {
  redis.disconnect();
  await server.stop();
}
