/**
 * Offline materialization: versioned, date-partitioned Parquet; idempotent re-runs and
 * overlapping ranges; historical retrieval reads it when the manifest covers the request (same
 * answers as from the source) and falls back to the source otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, utimesSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import { materializedDir, readManifest } from '../../src/offline/materialization-manifest.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { ms, readTable, tempDir, writeBulk, writeTable } from './support/data.ts';
import { openStore } from './support/retrieve.ts';

const tmp = tempDir();
let store: DuckDBOfflineStore;
const H = 3_600_000;
const src = path.join(tmp.dir, 'data', 'rides.parquet');
const snap = buildSnapshot({
  views: [{ name: 'rides', entities: { driver: { driver_id: 'int64' } }, ttlMs: 6 * H, source: { path: 'data/rides.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { n: 'int64', n2: { type: 'int64', expr: 'n * 2' } } }],
});
const view = snap.featureViews.rides.versions[0];
const dir = () => materializedDir(path.join(tmp.dir, 'offline'), view);
const days = () => readdirSync(dir()).filter((d) => d.startsWith('date=')).sort();

// Three days of rows every 4 hours for two drivers.
async function writeSource(offset = 0): Promise<void> {
  const rows = [];
  for (let h = 0; h < 72; h += 4) for (const d of [1, 2]) rows.push([d, new Date(ms('2024-03-01T00:00:00Z') + h * H).toISOString(), new Date(ms('2024-03-01T00:00:00Z') + h * H).toISOString(), h + d * 1000 + offset]);
  await writeBulk(src, [['driver_id', 'BIGINT'], ['ts', 'TIMESTAMPTZ'], ['created', 'TIMESTAMPTZ'], ['n', 'BIGINT']], rows);
}

async function materializedRows(): Promise<Record<string, unknown>[]> {
  return readTable(path.join(dir(), 'date=*', '*.parquet'));
}

beforeAll(async () => {
  store = await openStore(tmp.dir);
  await writeSource();
});
afterAll(async () => {
  await store?.close();
  tmp.cleanup();
});

describe('materialize-offline', () => {
  it('writes date partitions in the stored shape and records the interval', async () => {
    const r = await store.materializeOffline(view);
    expect(r.rows).toBe(36);
    expect(days()).toEqual(['date=2024-03-01', 'date=2024-03-02', 'date=2024-03-03']);
    const rows = await materializedRows();
    expect(rows.length).toBe(36);
    // (`date` comes from the directory name: DuckDB reads hive partitions by default.)
    expect(Object.keys(rows[0]).filter((k) => k !== 'date').sort()).toEqual(['__ps_latest', 'created_ts', 'driver_id', 'event_ts', 'n', 'n2']);
    expect(readManifest(path.join(tmp.dir, 'offline'), view)?.intervals).toEqual([[null, null]]);
  });

  it('re-running all time or a range does not duplicate; a range cutting a day keeps that day\'s other rows', async () => {
    await store.materializeOffline(view);
    expect((await materializedRows()).length).toBe(36);
    // 2024-03-02 10:00 → 2024-03-03 02:00 cuts two days.
    const r = await store.materializeOffline(view, { startMs: ms('2024-03-02T10:00:00Z'), endMs: ms('2024-03-03T02:00:00Z') });
    expect(r.rows).toBe(8); // 12:00 16:00 20:00 00:00 for two drivers
    const rows = await materializedRows();
    expect(rows.length).toBe(36);
    const keys = rows.map((x) => `${x.driver_id}@${(x.event_ts as Date).valueOf()}`);
    expect(new Set(keys).size).toBe(36);
    expect(readManifest(path.join(tmp.dir, 'offline'), view)?.intervals).toEqual([[null, null]]);
  });

  it('materializes an empty range as an empty claim that retrieval can still use', async () => {
    const two = buildSnapshot({
      views: [{ name: 'rides_future', entities: { driver: { driver_id: 'int64' } }, ttlMs: H, source: { path: 'data/rides.parquet', timestampField: 'ts' }, features: { n: 'int64' } }],
    });
    const v = two.featureViews.rides_future.versions[0];
    const r = await store.materializeOffline(v, { startMs: ms('2030-01-01T00:00:00Z'), endMs: ms('2030-02-01T00:00:00Z') });
    expect(r).toMatchObject({ rows: 0, partitions: 0 });
    const efile = await writeTable(path.join(tmp.dir, 'e-future.parquet'), [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']], [[1, '2030-01-10 00:00:00']]);
    const job = await store.historical(two, { entities: { file: efile }, features: ['rides_future:n'] });
    expect(job.origins[0].origin).toMatch(/^offline materialization/);
    expect((await job.toTable()).toArray().map((x) => x.toJSON().n)).toEqual([null]);
    await job.close();
  });

  it('historical retrieval reads the materialization when covered and gives the same answers', async () => {
    const efile = await writeTable(path.join(tmp.dir, 'e.parquet'), [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']], [[1, '2024-03-02 05:00:00'], [2, '2024-03-03 23:00:00'], [1, '2024-03-09 00:00:00']]);
    const req = { entities: { file: efile }, features: ['rides:n', 'rides:n2'] };
    const job = await store.historical(snap, req);
    expect(job.origins[0].origin).toMatch(/^offline materialization/);
    const fromMat = (await job.toTable()).toArray().map((x) => x.toJSON());
    await job.close();
    const fromSource = (await store.historicalTable(snap, { ...req, useMaterializations: false })).toArray().map((x) => x.toJSON());
    expect(fromMat).toEqual(fromSource);
    expect(fromMat.map((x) => x.n)).toEqual([1028n, 2068n, null]);
  });

  it('falls back to the source when the materialization does not cover the request or the source changed', async () => {
    await store.materializeOffline(view, { startMs: ms('2024-03-02T00:00:00Z'), endMs: ms('2024-03-03T00:00:00Z') }); // still all-time claimed
    // Another view over the same source, materialized for one day only:
    const two = buildSnapshot({
      views: [{ name: 'rides_daily', entities: { driver: { driver_id: 'int64' } }, ttlMs: 6 * H, source: { path: 'data/rides.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { n: 'int64' } }],
    });
    const daily = two.featureViews.rides_daily.versions[0];
    await store.materializeOffline(daily, { startMs: ms('2024-03-02T00:00:00Z'), endMs: ms('2024-03-03T00:00:00Z') });
    const efile = await writeTable(path.join(tmp.dir, 'e2.parquet'), [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']], [[1, '2024-03-02 12:00:00']]);
    const inside = await store.historical(two, { entities: { file: efile }, features: ['rides_daily:n'] });
    expect(inside.origins[0].origin).toMatch(/^offline materialization/); // needs [06:00, 12:00] of 03-02
    await inside.close();
    const e3 = await writeTable(path.join(tmp.dir, 'e3.parquet'), [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']], [[1, '2024-03-02 03:00:00']]);
    const outside = await store.historical(two, { entities: { file: e3 }, features: ['rides_daily:n'] });
    expect(outside.origins[0].origin).toMatch(/^source .* do not cover/); // the ttl reaches back into 03-01
    await outside.close();
    // The source changes: the stamp no longer matches, so the source is read (and the answer is new).
    await writeSource(500);
    utimesSync(src, new Date(), new Date(Date.now() + 5000));
    const job = await store.historical(snap, { entities: { file: efile }, features: ['rides:n'] });
    expect(job.origins[0].origin).toMatch(/source files changed/);
    expect((await job.toTable()).toArray().map((x) => x.toJSON().n)).toEqual([1536n]);
    await job.close();
  });
});
