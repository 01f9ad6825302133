/**
 * The online CLI end to end, in process, on a throwaway repository: apply, materialize,
 * online get (features and a feature service, statuses), push (good and bad batches),
 * materialize-incremental; against the embedded store, Redis (PITSTOP_REDIS_URL) and a 3-master
 * Redis Cluster (PITSTOP_REDIS_CLUSTER_NODES).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { BASE_DEFS, tempDir, writeRepo } from '../cli/helpers.ts';
import { writeTable } from '../offline/support/data.ts';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../support/redis-server.ts';

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await main(argv, { stdout: w((s) => (stdout += s)), stderr: w((s) => (stderr += s)), env, interactive: false });
  return { code, stdout, stderr };
}

let repo: { dir: string; cleanup: () => Promise<void> };
let redis: RedisServer;
let cluster: RedisCluster;
const NOW = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;

beforeAll(async () => {
  repo = await tempDir('pitstop-online-cli-');
  await writeRepo(repo.dir, BASE_DEFS);
  // rider 1: fresh; rider 2: 3 h old (ttl 2h → OUTSIDE_MAX_AGE); rider 3: null trips.
  await writeTable(path.join(repo.dir, 'data/trips/t.parquet'),
    [['rider_id', 'BIGINT'], ['event_ts', 'TIMESTAMPTZ'], ['trips_today', 'BIGINT'], ['fare_sum', 'DOUBLE'], ['trip_count', 'BIGINT']],
    [
      [1, iso(NOW - 2 * HOUR), 1, 10, 1],
      [1, iso(NOW - HOUR / 2), 4, 40, 4],
      [2, iso(NOW - 3 * HOUR), 9, 90, 3],
      [3, iso(NOW - HOUR / 2), null, 5, 0],
    ]);
  const applied = await cli(['apply', '--repo', repo.dir]);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
});
afterAll(async () => {
  await redis?.stop();
  await cluster?.stop();
  await repo?.cleanup();
});

const get = async (env: NodeJS.ProcessEnv, ...extra: string[]) => {
  const r = await cli(['online', 'get', '--repo', repo.dir, '--entity', 'rider_id=1', '--entity', 'rider_id=2', '--entity', 'rider_id=3', '--entity', 'rider_id=4', ...extra], env);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
};

describe.each([
  ['embedded', () => ({})],
  ['redis', () => ({ PITSTOP_REDIS_URL: redis.url })],
  ['redis cluster', () => ({ PITSTOP_REDIS_CLUSTER_NODES: cluster.seeds })],
])('online CLI (%s)', (_name, envOf) => {
  it('materialize, then online get prints values, statuses and event times', async () => {
    const env = envOf();
    const m = await cli(['materialize', '--repo', repo.dir, '--start', iso(NOW - 10 * HOUR), '--end', 'now'], env);
    expect(m.stderr).toMatch(/materialized rider_stats@1: 3 rows/);
    expect(m.code).toBe(0);
    const out = await get(env, '--features', 'rider_stats:trips_today,rider_stats:avg_fare');
    expect(out.features.trips_today.statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'NULL_VALUE', 'NOT_FOUND']);
    expect(out.features.trips_today.values).toEqual([4, 9, null, null]);
    expect(out.features.avg_fare.values).toEqual([10, 30, null, null]);
    expect(out.features.trips_today.event_timestamps[0]).toBe(iso(NOW - HOUR / 2));
    expect(out.features.trips_today.event_timestamps[3]).toBeNull();
    const svc = await get(env, '--feature-service', 'eta_model', '--full-feature-names');
    expect(Object.keys(svc.features)).toEqual(['rider_stats__trips_today', 'rider_stats__avg_fare']);
    // The flag is spelled as `historical` spells it; the old `--full-names` still works.
    expect(await get(env, '--feature-service', 'eta_model', '--full-names')).toEqual(svc);
    expect(Object.keys((await get(env, '--feature-service', 'eta_model')).features)).toEqual(['trips_today', 'avg_fare']);
  });

  it('push: a good file is written, a bad one names the row and field and writes nothing', async () => {
    const env = envOf();
    const good = path.join(repo.dir, 'good.json');
    await writeFile(good, JSON.stringify([{ rider_id: 4, event_timestamp: iso(NOW), trips_today: 12, avg_fare: 3.5 }]));
    const p = await cli(['push', '--repo', repo.dir, '--view', 'rider_stats', '--file', good], env);
    expect(p.stderr).toBe('');
    expect(p.stdout).toMatch(/pushed 1 rows to rider_stats@1: 1 written/);
    const csv = path.join(repo.dir, 'bad.csv');
    await writeFile(csv, `rider_id,event_timestamp,trips_today\n5,${iso(NOW)},3\n6,${iso(NOW)},lots\n`);
    const bad = await cli(['push', '--repo', repo.dir, '--view', 'rider_stats', '--file', csv], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/PUSH_ROWS_INVALID/);
    expect(bad.stderr).toMatch(/rows\[1\]\.trips_today: trips_today: expected int64, got string "lots"/);
    const after = await cli(['online', 'get', '--repo', repo.dir, '--entity', 'rider_id=4', '--entity', 'rider_id=5', '--features', 'rider_stats:trips_today'], env);
    expect(JSON.parse(after.stdout).features.trips_today.values).toEqual([12, null]);
  });

  it('materialize-incremental moves the watermark; bad input fails with a clear error', async () => {
    const env = envOf();
    const r = await cli(['materialize-incremental', '--repo', repo.dir, '--end', 'now', '--lookback', '1h'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/watermark/);
    const unknown = await cli(['materialize', '--repo', repo.dir, '--start', iso(0), '--end', 'now', 'nope'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/UNKNOWN_FEATURE_VIEW/);
    const badTime = await cli(['materialize', '--repo', repo.dir, '--start', 'yesterday', '--end', 'now'], env);
    expect(badTime.code).toBe(2);
    const badEntity = await cli(['online', 'get', '--repo', repo.dir, '--entity', 'rider_id=abc', '--features', 'rider_stats:trips_today'], env);
    expect(badEntity.code).toBe(1);
    expect(badEntity.stderr).toMatch(/rider_id: expected int64/);
  });
});

describe('push file formats', () => {
  it('reads NDJSON and Parquet, and --offline appends to the push log', async () => {
    const nd = path.join(repo.dir, 'rows.ndjson');
    await writeFile(nd, `{"rider_id": "7", "event_timestamp": ${NOW}, "trips_today": 70}\n{"rider_id": 8, "event_timestamp": "${iso(NOW)}", "avg_fare": 1.5}\n`);
    const a = await cli(['push', '--repo', repo.dir, '--view', 'rider_stats', '--file', nd, '--offline']);
    expect(a.stderr).toBe('');
    expect(a.stdout).toMatch(/pushed 2 rows to rider_stats@1: 2 written, 0 older than what is stored; push log \.pitstop\/offline\/push\/rider_stats\/v1\/.*\.parquet/);
    const pq = path.join(repo.dir, 'rows.parquet');
    await writeTable(pq, [['rider_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMPTZ'], ['trips_today', 'BIGINT']], [[9, iso(NOW), 90]]);
    const b = await cli(['push', '--repo', repo.dir, '--view', 'rider_stats', '--file', pq]);
    expect(b.stdout).toMatch(/pushed 1 rows/);
    const got = await cli(['online', 'get', '--repo', repo.dir, '--entity', 'rider_id=7', '--entity', 'rider_id=8', '--entity', 'rider_id=9', '--features', 'rider_stats:trips_today,rider_stats:avg_fare']);
    const out = JSON.parse(got.stdout);
    expect(out.features.trips_today.values).toEqual([70, null, 90]);
    expect(out.features.avg_fare.statuses).toEqual(['NULL_VALUE', 'PRESENT', 'NULL_VALUE']);
    const txt = await cli(['push', '--repo', repo.dir, '--view', 'rider_stats', '--file', path.join(repo.dir, 'rows.txt')]);
    expect(txt.code).toBe(2);
  });
});

describe('online CLI with Redis down', () => {
  it('fails fast with ONLINE_STORE_UNAVAILABLE and a non-zero exit', async () => {
    const t0 = Date.now();
    const r = await cli(['online', 'get', '--repo', repo.dir, '--entity', 'rider_id=1', '--features', 'rider_stats:trips_today'], { PITSTOP_REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ONLINE_STORE_UNAVAILABLE/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
