/**
 * Materialization end to end on real parts: Parquet written by DuckDB, the DuckDB offline
 * reader, the embedded and Redis online stores, the file registry store's watermarks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import { DuckDBSession } from '../../src/offline/duckdb-session.ts';
import { literal, sql, trusted } from '../../src/offline/sql.ts';
import { FileRegistryStore } from '../../src/registry/file-store.ts';
import { EmbeddedOnlineStore } from '../../src/online/embedded/embedded-store.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { RowEncoder, decodeRow } from '../../src/online/row-codec.ts';
import type { OnlineReader, OnlineWrite, OnlineWriter } from '../../src/online/ports.ts';
import { materialize, materializeIncremental, selectViews, type MaterializeProgress } from '../../src/materialize/materialize.ts';
import { withRowEstimate } from '../../src/app/online.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { startRedis } from '../support/redis-server.ts';
import { tempDir } from '../offline/support/data.ts';
import { keyList } from '../support/key-list.ts';

const tmp = tempDir('pitstop-materialize-');
const T0 = Date.parse('2024-01-01T00:00:00Z');
const HOUR = 3_600_000;
const N = 3000;
let duck: DuckDBSession;
let offline: DuckDBOfflineStore;

const snapshot = buildSnapshot({
  views: [
    {
      name: 'driver_stats',
      entities: { driver: { driver_id: 'int64' } },
      source: { path: 'data/stats/*.parquet', timestampField: 'event_ts', createdTimestampField: 'created_ts' },
      ttlMs: 2 * HOUR,
      features: { trips: 'int64', rating: 'float32', label: 'string', seen: 'timestamp', emb: 'list<float32>' },
    },
    {
      name: 'offline_only',
      entities: { driver: { driver_id: 'int64' } },
      source: { path: 'data/stats/*.parquet', timestampField: 'event_ts' },
      online: false,
      features: { trips: 'int64' },
    },
  ],
});
const view = snapshot.featureViews.driver_stats.versions[0];
const keys = view.joinKeys;

/** Each driver i has rows at T0 + h hours (h = 0..2) with trips = i*10 + h; file `name`. */
async function writeStats(name: string, select: string): Promise<void> {
  const dir = path.join(tmp.dir, 'data/stats');
  mkdirSync(dir, { recursive: true });
  await duck.exec(sql`COPY (${trusted(select)}) TO ${literal(path.join(dir, name))} (FORMAT parquet)`);
}

const baseSelect = `SELECT i::BIGINT AS driver_id,
  TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_hours(h) AS event_ts,
  TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_hours(h) AS created_ts,
  (i * 10 + h)::BIGINT AS trips, (h + 0.5)::FLOAT AS rating,
  CASE WHEN i % 7 = 0 THEN NULL ELSE 'd' || i END AS label,
  TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_minutes(i) AS seen,
  [h::FLOAT, i::FLOAT] AS emb
FROM range(${N}) t(i), range(3) u(h)`;

async function readAll(store: OnlineReader, ids: number[]) {
  const rows = await store.readRows({ views: ['driver_stats@1'], entityKeys: [keyList(ids.map((i) => encodeEntityKey(keys, [i])))] });
  return rows[0].map((r) => (r ? decodeRow(r, view.features.length) : null));
}

beforeAll(async () => {
  duck = await DuckDBSession.create({ threads: 1 });
  await writeStats('base.parquet', baseSelect);
  offline = await DuckDBOfflineStore.create({ repoDir: tmp.dir, offlineDataDir: path.join(tmp.dir, 'offline'), threads: 1 });
});
afterAll(async () => {
  await offline?.close();
  duck?.close();
  tmp.cleanup();
});

/** A writer that fails after `okCalls` calls: stands in for a process killed mid-run. */
function failingAfter(inner: OnlineWriter, okCalls: number): OnlineWriter {
  let calls = 0;
  return {
    writeRows: async (rows: readonly OnlineWrite[]) => {
      if (++calls > okCalls) throw new Error('killed');
      return inner.writeRows(rows);
    },
    close: () => inner.close(),
  };
}

describe('materialize', () => {
  it('selects online views and rejects offline-only ones', () => {
    expect(selectViews(snapshot).map((v) => v.name)).toEqual(['driver_stats']);
    expect(() => selectViews(snapshot, ['offline_only'])).toThrow(/not online/);
    expect(() => selectViews(snapshot, ['nope'])).toThrow(/unknown feature view/);
    expect(selectViews(snapshot, ['driver_stats@1'])[0].version).toBe(1);
  });

  it('by default also materializes older versions a feature service pins', () => {
    const s = buildSnapshot({
      views: [{ name: 'v', entities: { e: { id: 'int64' } }, source: { path: 'x.parquet' }, features: { b: 'int64' }, olderVersions: [{ a: 'int64' }] }],
      services: { pinned: ['v@1:a'], latest: ['v:b'] },
    });
    expect(selectViews(s).map((v) => `${v.name}@${v.version}`)).toEqual(['v@2', 'v@1']);
  });

  it('writes the latest row per entity in the range, all types, in bounded chunks', async () => {
    const dir = path.join(tmp.dir, 'online-a');
    const online = await EmbeddedOnlineStore.create({ dir });
    try {
      let calls = 0;
      const counting: OnlineWriter = { writeRows: (r) => (calls++, online.writeRows(r)), close: async () => {} };
      const [res] = await materialize([view], { startMs: T0, endMs: T0 + 2 * HOUR }, { offline, online: counting }, { batchRows: 1000, writeChunkRows: 256, maxInFlight: 2 });
      expect(res).toMatchObject({ view: 'driver_stats@1', rows: N, written: N, stale: 0 });
      expect(calls).toBeGreaterThanOrEqual(Math.ceil(N / 256));
      const got = await readAll(online, [0, 1, 8, N - 1, N]);
      // end is exclusive: hour 2 is not in range, so hour 1 is the latest
      expect(got[1]).toEqual({ eventMs: T0 + HOUR, createdMs: T0 + HOUR, values: [11n, 1.5, 'd1', T0 + 60_000, [1, 1]] });
      expect(got[0]!.values[2]).toBeNull(); // null label stays null
      expect(got[3]!.values[0]).toBe(BigInt((N - 1) * 10 + 1));
      expect(got[4]).toBeNull();
      // a later run over the full range moves values forward; replaying an old range never moves them back
      await materialize([view], { startMs: T0, endMs: T0 + 3 * HOUR }, { offline, online });
      const [replay] = await materialize([view], { startMs: T0, endMs: T0 + HOUR }, { offline, online });
      expect(replay).toMatchObject({ rows: N, written: 0, stale: N });
      expect((await readAll(online, [1]))[0]!.values[0]).toBe(12n);
    } finally {
      await online.close();
    }
  });

  it('rows stored before the store tracked expiry get one when the view version is materialized', async () => {
    const dir = path.join(tmp.dir, 'online-backfill');
    const now = T0 + 3 * HOUR;
    const encoder = new RowEncoder(view.features.map((f) => ({ name: f.name, type: f.type })));
    // A store written without expiry (as before it was tracked): entities the source no longer
    // has, with event times long past the view's ttl.
    const old = await EmbeddedOnlineStore.create({ dir, now: () => now });
    const stale = [N + 10, N + 11];
    await old.writeRows(stale.map((i) => ({ view: 'driver_stats@1', entity: encodeEntityKey(keys, [i]), row: Buffer.from(encoder.encode(T0 - 10 * 24 * HOUR, null, [1n, 1, 'x', T0, [1]])) })));
    await old.close();
    const online = await EmbeddedOnlineStore.create({ dir, now: () => now, sweepPerWrite: 0 });
    try {
      expect(await online.sweepExpired(100_000)).toBe(0); // no expiry recorded: nothing is due
      await materialize([view], { startMs: T0, endMs: now }, { offline, online, now: () => now });
      // The backfill gave the old rows event time + ttl + grace, long past: they are due now;
      // the materialized rows expire ttl + grace from now and stay.
      expect(await online.sweepExpired(100_000)).toBe(stale.length);
      expect((await readAll(online, stale)).every((r) => r === null)).toBe(true);
      expect((await readAll(online, [0, N - 1])).every((r) => r !== null)).toBe(true);
    } finally {
      await online.close();
    }
  });

  it('progress gets a row estimate from the DuckDB store (in time, or later through rowsEstimated)', async () => {
    const dir = path.join(tmp.dir, 'online-estimate');
    const seen: string[] = [];
    const progress: MaterializeProgress = {
      viewStarted: (_v, _r, n) => seen.push(`started ${n}`),
      rowsEstimated: (_v, n) => seen.push(`estimated ${n}`),
      rowsWritten: () => {},
      viewFinished: () => {},
    };
    const estimating = withRowEstimate(offline);
    const range = { startMs: T0, endMs: T0 + 2 * HOUR }; // event hours 0 and 1
    const online = await EmbeddedOnlineStore.create({ dir });
    try {
      const [r] = await materialize([view], range, { offline: estimating, online, progress }, { estimateWaitMs: 10_000 });
      expect(seen).toEqual([`started ${N}`]);
      expect(r.rows).toBe(N);
      // An estimate slower than the wait arrives while the rows are being written.
      seen.length = 0;
      const slow = { ...estimating, estimateRows: async (v: typeof view, rg: typeof range) => (await new Promise((res) => setTimeout(res, 50)), estimating.estimateRows!(v, rg)) };
      const slowOffline = { ...slow, readLatest: async function* (v: typeof view, rg: typeof range, o?: { batchRows?: number }) {
        await new Promise((res) => setTimeout(res, 400));
        yield* offline.readLatest(v, rg, o);
      } };
      await materialize([view], range, { offline: slowOffline, online, progress }, { estimateWaitMs: 0 });
      expect(seen).toEqual(['started undefined', `estimated ${N}`]);
    } finally {
      await online.close();
    }
  });

  it('killed halfway and run again, ends in the same state as an uninterrupted run', async () => {
    const range = { startMs: T0, endMs: T0 + 3 * HOUR };
    const full = await EmbeddedOnlineStore.create({ dir: path.join(tmp.dir, 'online-full') });
    const broken = await EmbeddedOnlineStore.create({ dir: path.join(tmp.dir, 'online-broken') });
    const registry = await FileRegistryStore.create(path.join(tmp.dir, 'registry-kill'));
    try {
      await materialize([view], range, { offline, online: full }, { batchRows: 500, writeChunkRows: 200 });
      const err = await materialize([view], range, { offline, online: failingAfter(broken, 3), watermarks: registry }, { batchRows: 500, writeChunkRows: 200, maxInFlight: 1 }).catch((e) => e);
      expect(err).toMatchObject({ reason: 'MATERIALIZE_FAILED' });
      expect(err.message).toMatch(/driver_stats@1 stopped after \d+ of \d+ rows read: killed; run it again/);
      expect(await registry.getWatermark('driver_stats', 1)).toBeUndefined(); // not advanced
      const ids = Array.from({ length: N }, (_, i) => i);
      expect((await readAll(broken, ids)).filter((r) => r === null).length).toBeGreaterThan(0);
      await materialize([view], range, { offline, online: broken, watermarks: registry });
      expect(await readAll(broken, ids)).toEqual(await readAll(full, ids));
      expect(await registry.getWatermark('driver_stats', 1)).toBe(range.endMs);
    } finally {
      await full.close();
      await broken.close();
    }
  });

  it('an aborted run (Ctrl-C) stops, reports, and leaves the watermark alone', async () => {
    const online = await EmbeddedOnlineStore.create({ dir: path.join(tmp.dir, 'online-abort') });
    const registry = await FileRegistryStore.create(path.join(tmp.dir, 'registry-abort'));
    const ac = new AbortController();
    try {
      const aborting: OnlineWriter = { writeRows: (r) => (ac.abort(), online.writeRows(r)), close: async () => {} };
      const err = await materializeIncremental([view], T0 + 3 * HOUR, { offline, online: aborting, watermarks: registry }, { batchRows: 500, writeChunkRows: 100, signal: ac.signal }).catch((e) => e);
      expect(err).toMatchObject({ reason: 'MATERIALIZE_FAILED' });
      expect(err.message).toMatch(/cancelled; run it again/);
      expect(await registry.getWatermark('driver_stats', 1)).toBeUndefined();
    } finally {
      await online.close();
    }
  });

  it('incremental: from the watermark, with an optional lookback for late rows', async () => {
    const online = await EmbeddedOnlineStore.create({ dir: path.join(tmp.dir, 'online-inc') });
    const registry = await FileRegistryStore.create(path.join(tmp.dir, 'registry-inc'));
    const deps = { offline, online, watermarks: registry };
    try {
      // First run: never materialized, ttl 2h → starts at end - 2h.
      const [first] = await materializeIncremental([view], T0 + 2 * HOUR, deps);
      expect(first.range).toEqual({ startMs: T0, endMs: T0 + 2 * HOUR });
      expect(first.watermarkMs).toBe(T0 + 2 * HOUR);
      // A late row (event 01:30, arriving now) for driver 5, plus a new row at 03:00 for driver 6.
      await writeStats('late.parquet', `SELECT * FROM (VALUES
        (5::BIGINT, TIMESTAMPTZ '2024-01-01 01:30:00+00', TIMESTAMPTZ '2024-01-02 00:00:00+00', 999::BIGINT, 9::FLOAT, 'late', NULL::TIMESTAMPTZ, NULL::FLOAT[]),
        (6::BIGINT, TIMESTAMPTZ '2024-01-01 03:00:00+00', TIMESTAMPTZ '2024-01-01 03:00:00+00', 777::BIGINT, 7::FLOAT, 'new', NULL::TIMESTAMPTZ, NULL::FLOAT[])
      ) v(driver_id, event_ts, created_ts, trips, rating, label, seen, emb)`);
      // Without lookback: from 02:00; the late 01:30 row is missed, but driver 5 gets its 02:00 row anyway.
      const [second] = await materializeIncremental([view], T0 + 4 * HOUR, deps);
      expect(second.range.startMs).toBe(T0 + 2 * HOUR);
      const got = await readAll(online, [5, 6]);
      expect(got[0]!.values[0]).toBe(52n);
      expect(got[1]!.values[0]).toBe(777n);
      // With a lookback reaching 01:30 for a view whose latest row is the late one:
      await writeStats('late2.parquet', `SELECT 9000::BIGINT AS driver_id, TIMESTAMPTZ '2024-01-01 03:30:00+00' AS event_ts,
        TIMESTAMPTZ '2024-01-01 03:30:00+00' AS created_ts, 1::BIGINT AS trips, 1::FLOAT AS rating, 'x' AS label, NULL::TIMESTAMPTZ AS seen, NULL::FLOAT[] AS emb`);
      const [none] = await materializeIncremental([view], T0 + 5 * HOUR, deps);
      expect((await readAll(online, [9000]))[0]).toBeNull(); // 03:30 < watermark 04:00: missed
      expect(none.range.startMs).toBe(T0 + 4 * HOUR);
      const [withLookback] = await materializeIncremental([view], T0 + 5 * HOUR, deps, { lookbackMs: 2 * HOUR });
      expect(withLookback.range.startMs).toBe(T0 + 3 * HOUR);
      expect((await readAll(online, [9000]))[0]!.values[0]).toBe(1n);
      expect(await registry.getWatermark('driver_stats', 1)).toBe(T0 + 5 * HOUR);
    } finally {
      await online.close();
    }
  });

  it('Redis failing mid-run: clear error, no watermark move, a rerun completes', async () => {
    const server = await startRedis();
    const online = await RedisOnlineStore.create({ url: server.url, project: 'm', commandTimeoutMs: 500 });
    const registry = await FileRegistryStore.create(path.join(tmp.dir, 'registry-redis'));
    try {
      const range = { startMs: T0, endMs: T0 + 3 * HOUR };
      let calls = 0;
      const stopping: OnlineWriter = {
        writeRows: async (rows) => {
          if (++calls === 3) await server.stop();
          return online.writeRows(rows);
        },
        close: async () => {},
      };
      const err = await materialize([view], range, { offline, online: stopping, watermarks: registry }, { writeChunkRows: 300, maxInFlight: 1 }).catch((e) => e);
      expect(err).toMatchObject({ reason: 'ONLINE_STORE_UNAVAILABLE' });
      expect(err.message).toMatch(/run it again/);
      expect(await registry.getWatermark('driver_stats', 1)).toBeUndefined();
      await server.restart();
      for (let i = 0; i < 50; i++) {
        try {
          await online.ping();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const [res] = await materialize([view], range, { offline, online, watermarks: registry });
      expect(res.written).toBe(N);
      const got = await readAll(online, [0, N - 1]);
      expect(got[1]!.values[0]).toBe(BigInt((N - 1) * 10 + 2));
    } finally {
      await online.close();
      await server.stop();
    }
  });
});
