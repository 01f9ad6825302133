/**
 * The consistency check end to end on real parts: Parquet written by DuckDB, the DuckDB offline
 * reader, materialization into the embedded store and a real redis-server, then online rows
 * corrupted, omitted and aged on purpose; every class must be found with the right counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { checkConsistency } from '../../src/consistency/check.ts';
import { sampleOfflineLatest } from '../../src/consistency/sample.ts';
import type { ConsistencyReport } from '../../src/consistency/report.ts';
import { materialize } from '../../src/materialize/materialize.ts';
import { pushRows } from '../../src/materialize/push.ts';
import { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import { DuckDBSession } from '../../src/offline/duckdb-session.ts';
import { literal, sql, trusted } from '../../src/offline/sql.ts';
import { EmbeddedOnlineStore } from '../../src/online/embedded/embedded-store.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import type { OnlineReader, OnlineWriter } from '../../src/online/ports.ts';
import { RowKeys } from '../../src/online/redis/row-key.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { resolveRefs, resolveService } from '../../src/registry/resolve.ts';
import { tempDir } from '../offline/support/data.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

const tmp = tempDir('pitstop-consistency-');
const T0 = Date.parse('2024-01-01T00:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
/** Check time: 2h30 after T0, so rows from T0 alone are past the 2h ttl. */
const NOW = T0 + 2 * HOUR + 30 * MIN;
const N = 200;

const snapshot = buildSnapshot({
  project: 'cons',
  views: [
    {
      name: 'driver_stats',
      entities: { driver: { driver_id: 'int64' } },
      source: { path: 'data/stats/*.parquet', timestampField: 'event_ts', createdTimestampField: 'created_ts' },
      ttlMs: 2 * HOUR,
      features: { trips: 'int64', rating: 'float32', label: 'string', emb: 'list<float32>' },
    },
    {
      name: 'offline_only',
      entities: { driver: { driver_id: 'int64' } },
      source: { path: 'data/stats/*.parquet', timestampField: 'event_ts' },
      online: false,
      features: { trips: 'int64' },
    },
  ],
  services: { ranker: ['driver_stats:trips', 'driver_stats:rating'] },
});
const view = snapshot.featureViews.driver_stats.versions[0];
const ALL = resolveRefs(snapshot, ['driver_stats:trips', 'driver_stats:rating', 'driver_stats:label', 'driver_stats:emb'], false);

let duck: DuckDBSession;
let offline: DuckDBOfflineStore;
let redis: RedisServer;
let embedded: EmbeddedOnlineStore;
let redisStore: RedisOnlineStore;

async function writeStats(name: string, select: string): Promise<void> {
  const dir = path.join(tmp.dir, 'data/stats');
  mkdirSync(dir, { recursive: true });
  await duck.exec(sql`COPY (${trusted(select)}) TO ${literal(path.join(dir, name))} (FORMAT parquet)`);
}

const at = (ms: number) => `TIMESTAMPTZ '${new Date(ms).toISOString()}'`;

/**
 * Driver i has rows at T0 + h hours (h = 0..2), trips = i*10 + h, a rating that is not exact in
 * float32 (i/10 + h), label null when i % 7 = 0, emb [h, i/3]. Drivers with i % 50 = 3 only
 * have the T0 row (so they are past the ttl at NOW).
 */
const BASE = `SELECT i::BIGINT AS driver_id, ${at(T0)} + to_hours(h) AS event_ts, ${at(T0)} + to_hours(h) AS created_ts,
  (i * 10 + h)::BIGINT AS trips, (i / 10 + h)::FLOAT AS rating,
  CASE WHEN i % 7 = 0 THEN NULL ELSE 'd' || i END AS label,
  [h::FLOAT, (i / 3)::FLOAT] AS emb
FROM range(${N}) t(i), range(3) u(h) WHERE i % 50 <> 3 OR h = 0`;

/** Rows that arrive after materialization: drivers 10..14 newer (stale online), 200..202 new (missing online), 20 in the future. */
const LATE = `SELECT driver_id::BIGINT AS driver_id, event_ts, event_ts AS created_ts, 1::BIGINT AS trips, 1::FLOAT AS rating, 'late' AS label, [1::FLOAT] AS emb
FROM (VALUES (10, ${at(T0 + 2 * HOUR + 15 * MIN)}), (11, ${at(T0 + 2 * HOUR + 15 * MIN)}), (12, ${at(T0 + 2 * HOUR + 15 * MIN)}),
  (13, ${at(T0 + 2 * HOUR + 15 * MIN)}), (14, ${at(T0 + 2 * HOUR + 15 * MIN)}),
  (200, ${at(T0 + 2 * HOUR + 15 * MIN)}), (201, ${at(T0 + 2 * HOUR + 15 * MIN)}), (202, ${at(T0 + 2 * HOUR + 15 * MIN)}),
  (20, ${at(T0 + 5 * HOUR)})) v(driver_id, event_ts)`;

/** Corruptions every store gets: driver 5 pushed ahead of offline, driver 7's trips overwritten at the same event time. */
async function corrupt(store: OnlineWriter): Promise<void> {
  await pushRows(snapshot, 'driver_stats', [
    { driver_id: 5, event_timestamp: T0 + 2 * HOUR + 20 * MIN, trips: 999, rating: 1, label: 'pushed', emb: [1] },
    // Same event time as offline's latest, later created time (wins the tie), only trips differs;
    // the rating is given as a double (0.7 + 2) and stored as float32: it must still match.
    { driver_id: 7, event_timestamp: T0 + 2 * HOUR, created_timestamp: T0 + 3 * HOUR, trips: 1072, rating: 0.7 + 2, label: null, emb: [2, 7 / 3] },
  ], { online: store });
}

beforeAll(async () => {
  duck = await DuckDBSession.create({ threads: 1 });
  await writeStats('base.parquet', BASE);
  offline = await DuckDBOfflineStore.create({ repoDir: tmp.dir, offlineDataDir: path.join(tmp.dir, 'offline'), threads: 1 });
  redis = await startRedis();
  embedded = await EmbeddedOnlineStore.create({ dir: path.join(tmp.dir, 'online') });
  redisStore = await RedisOnlineStore.create({ url: redis.url, project: 'cons' });
  for (const store of [embedded, redisStore]) {
    const [res] = await materialize([view], { startMs: T0, endMs: T0 + 3 * HOUR }, { offline, online: store });
    expect(res.rows).toBe(N);
  }
}, 30_000);
afterAll(async () => {
  await embedded?.close();
  await redisStore?.close();
  await offline?.close();
  duck?.close();
  await redis?.stop();
  tmp.cleanup();
});

const check = (reader: OnlineReader, request = ALL, options = {}) => checkConsistency(request, { offline, online: reader }, { nowMs: NOW, ...options });
const counts = (r: ConsistencyReport, feature: string) => r.views[0].features.find((f) => f.name === feature)!.counts;

describe('consistency check', () => {
  it('right after materialization: everything matches, except rows past the ttl, which are EXPIRED', async () => {
    for (const store of [embedded, redisStore]) {
      const r = await check(store);
      expect(r.views[0]).toMatchObject({ view: 'driver_stats@1', offline_entities: N, sampled_entities: N, max_online_lag_ms: 0, max_online_ahead_ms: 0 });
      for (const f of ['trips', 'rating', 'label', 'emb']) {
        expect(counts(r, f)).toEqual({ MATCH: N - 4, MISMATCH: 0, MISSING_ONLINE: 0, STALE_ONLINE: 0, AHEAD_ONLINE: 0, EXPIRED: 4 });
      }
      expect(r.views[0].features[0].examples.EXPIRED?.map((e) => e.entity)).toEqual(expect.arrayContaining([expect.objectContaining({ driver_id: expect.any(Number) })]));
      expect(r.mismatch_rate).toBe(0);
      expect(r.passed).toBe(true);
    }
  });

  it('finds stale, missing, ahead and mismatching values with exact counts (embedded and Redis)', async () => {
    await writeStats('late.parquet', LATE);
    await corrupt(embedded);
    await corrupt(redisStore);
    // Redis only: one row deleted (as eviction or a manual DEL would).
    const client = new Redis(redis.url);
    try {
      expect(await client.del(new RowKeys('ps', 'cons').key('driver_stats@1', encodeEntityKey(view.joinKeys, [9])))).toBe(1);
    } finally {
      client.disconnect();
    }
    const entities = N + 3; // 200..202 are new offline; driver 20's future row is ignored
    for (const [store, deleted] of [[embedded, 0], [redisStore, 1]] as const) {
      const r = await check(store);
      const v = r.views[0];
      expect(v.offline_entities).toBe(entities);
      expect(v.sampled_entities).toBe(entities);
      const missing = 3 + deleted;
      for (const f of ['rating', 'label', 'emb']) {
        expect(counts(r, f), f).toEqual({ MATCH: entities - 4 - 5 - missing - 1, MISMATCH: 0, MISSING_ONLINE: missing, STALE_ONLINE: 5, AHEAD_ONLINE: 1, EXPIRED: 4 });
      }
      expect(counts(r, 'trips')).toEqual({ MATCH: entities - 4 - 5 - missing - 1 - 1, MISMATCH: 1, MISSING_ONLINE: missing, STALE_ONLINE: 5, AHEAD_ONLINE: 1, EXPIRED: 4 });
      expect(v.max_online_lag_ms).toBe(15 * MIN);
      expect(v.max_online_ahead_ms).toBe(20 * MIN);
      const trips = v.features[0];
      expect(trips.examples.MISMATCH).toEqual([{
        entity: { driver_id: 7 }, offline_event_ts: new Date(T0 + 2 * HOUR).toISOString(), online_event_ts: new Date(T0 + 2 * HOUR).toISOString(), offline_value: 72, online_value: 1072,
      }]);
      expect(trips.examples.AHEAD_ONLINE?.[0]).toMatchObject({ entity: { driver_id: 5 }, offline_value: 52, online_value: 999 });
      expect(trips.examples.STALE_ONLINE).toHaveLength(3); // capped at 3 examples
      expect(trips.examples.STALE_ONLINE!.map((e) => e.entity.driver_id as number).every((d) => d >= 10 && d <= 14)).toBe(true);
      expect(trips.examples.MISSING_ONLINE!.map((e) => e.entity.driver_id)).toEqual(expect.arrayContaining(deleted ? [] : [200, 201, 202]));
      const bad = 4 * (5 + missing + 1) + 1;
      expect(v.values).toBe(4 * entities);
      expect(r.mismatch_rate).toBeCloseTo(bad / (4 * entities), 12);
      expect(r.passed).toBe(false);
      expect((await check(store, ALL, { maxMismatchRate: 0.2 })).passed).toBe(true);
    }
  });

  it('checks a feature service\'s features only, and rejects views that are not online', async () => {
    const r = await check(embedded, resolveService(snapshot, 'ranker', false));
    expect(r.views[0].features.map((f) => f.ref)).toEqual(['driver_stats@1:trips', 'driver_stats@1:rating']);
    expect(r.views[0].counts.MISMATCH).toBe(1);
    await expect(check(embedded, resolveRefs(snapshot, ['offline_only:trips'], false))).rejects.toMatchObject({ reason: 'VIEW_NOT_ONLINE' });
  });

  it('samples N entities by seed: the same seed picks the same ones, whatever the row order', async () => {
    const range = { startMs: 0, endMs: NOW + 1 };
    const a = await sampleOfflineLatest(offline, view, [0], range, 50, 1);
    const b = await sampleOfflineLatest(offline, view, [0], range, 50, 1);
    const c = await sampleOfflineLatest(offline, view, [0], range, 50, 2);
    const ids = (s: typeof a) => s.sampled.map((e) => e.key.driver_id);
    expect(a.entities).toBe(N + 3);
    expect(new Set(ids(a)).size).toBe(50);
    expect(ids(b)).toEqual(ids(a));
    expect(ids(c)).not.toEqual(ids(a));
    // Online reads in small chunks give the same report as one big read.
    const r = await check(redisStore, ALL, { sampleSize: 50, seed: 1, readChunk: 7 });
    expect(r).toEqual(await check(redisStore, ALL, { sampleSize: 50, seed: 1 }));
    expect(r.views[0].sampled_entities).toBe(50);
    expect(r.views[0].values).toBe(200);
    expect(r.sample_size).toBe(50);
  });
});
