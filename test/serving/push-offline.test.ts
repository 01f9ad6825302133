/**
 * Push with to_offline over gRPC and HTTP, on real Redis and a real DuckDB push log: the batch
 * lands in the push-log Parquet files (read back with DuckDB) and online. When the log cannot be
 * written, the call fails PUSH_LOG_UNAVAILABLE (gRPC UNAVAILABLE, HTTP 503) and nothing of the
 * batch is online.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { servingPush } from '../../src/app/serving.ts';
import type { PitstopCallError } from '../../src/client/client.ts';
import { DuckDBPushLog } from '../../src/offline/duckdb-push-log.ts';
import { DuckDBSession } from '../../src/offline/duckdb-session.ts';
import { pushLogDir } from '../../src/offline/ports.ts';
import { literal, sql } from '../../src/offline/sql.ts';
import { NOW } from './fixture.ts';
import { postJson, startHarness, type Harness } from './harness.ts';

/** Rows of every push-log file of a view version, ordered by key. */
async function pushLogRows(dataDir: string, view: string, version: number, key: string): Promise<Record<string, unknown>[]> {
  const duck = await DuckDBSession.create({ threads: 1 });
  try {
    const glob = path.join(pushLogDir(dataDir, view, version), '*.parquet');
    const rows = await duck.all(sql`SELECT *, epoch_ms(event_ts) AS event_ms FROM read_parquet(${literal(glob)})`);
    return rows.sort((a, b) => String(a[key]).localeCompare(String(b[key])));
  } finally {
    duck.close();
  }
}

/** A Redis-backed server whose push port appends to a DuckDB push log under `offlineDataDir`. */
function harnessWithPushLog(offlineDataDir: string, closers: (() => Promise<void>)[]): Promise<Harness> {
  return startHarness({
    store: 'redis',
    push: (store) => {
      const sp = servingPush(store, () => DuckDBPushLog.create(offlineDataDir), offlineDataDir);
      closers.push(() => sp.close());
      return sp.push;
    },
  });
}

describe('push to the offline log over gRPC and HTTP', () => {
  let h: Harness;
  let dir: string;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-pushlog-'));
    h = await harnessWithPushLog(dir, closers);
  });
  afterAll(async () => {
    await h?.close();
    for (const c of closers) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gRPC to_offline: rows are in the push-log Parquet and online', async () => {
    const r = await h.client.push(
      'driver_stats',
      { driver_id: [21, 22], event_timestamp: [new Date(NOW - 1000), new Date(NOW - 2000)], trips_today: [210, 220], rating: [4.25, null] },
      { toOffline: true },
    );
    expect(r).toEqual({ written: 2, stale: 0, offlineRows: 2 });
    const logged = await pushLogRows(dir, 'driver_stats', 1, 'driver_id');
    expect(logged.map((x) => [Number(x.driver_id), Number(x.trips_today), x.rating])).toEqual([
      [21, 210, 4.25],
      [22, 220, null],
    ]);
    expect(logged.map((x) => Number(x.event_ms))).toEqual([NOW - 1000, NOW - 2000]);
    const got = await h.client.getOnlineFeatures({ features: ['driver_stats:trips_today'], entities: { driver_id: [21, 22] } });
    expect(got.column('trips_today').values).toEqual([210n, 220n]);
  });

  it('HTTP to_offline: rows are in the push-log Parquet and online; a non-boolean to_offline is rejected', async () => {
    const ok = await postJson(`${h.http}/v1/push`, { feature_view: 'customer_stats', columns: { customer_id: ['c21'], event_timestamp: [NOW], orders: [21] }, to_offline: true });
    expect(ok).toEqual({ status: 200, body: { written: 1, stale: 0, offline_rows: 1 } });
    const logged = await pushLogRows(dir, 'customer_stats', 1, 'customer_id');
    expect(logged.map((x) => [x.customer_id, Number(x.orders)])).toEqual([['c21', 21]]);
    const back = await postJson(`${h.http}/v1/get-online-features`, { features: ['customer_stats:orders'], entities: { customer_id: ['c21'] } });
    expect(back.body.results[0].values).toEqual([21]);

    const bad = await postJson(`${h.http}/v1/push`, { feature_view: 'customer_stats', columns: { customer_id: ['c22'], event_timestamp: [NOW], orders: [1] }, to_offline: 'yes' });
    expect([bad.status, bad.body.error.reason]).toEqual([400, 'BAD_REQUEST']);
    expect(bad.body.error.message).toContain('to_offline');
  });
});

describe('push to an offline log that cannot be written', () => {
  let h: Harness;
  let dir: string;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-pushlog-bad-'));
    // The offline data dir is a file: the push log's directory cannot be created under it.
    const dataDir = path.join(dir, 'offline');
    writeFileSync(dataDir, 'not a directory');
    h = await harnessWithPushLog(dataDir, closers);
  });
  afterAll(async () => {
    await h?.close();
    for (const c of closers) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gRPC: UNAVAILABLE with reason PUSH_LOG_UNAVAILABLE, and nothing of the batch online', async () => {
    let err: PitstopCallError | undefined;
    try {
      await h.client.push('driver_stats', { driver_id: [31], event_timestamp: [NOW], trips_today: [31] }, { toOffline: true });
    } catch (e) {
      err = e as PitstopCallError;
    }
    expect(err?.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err?.reason).toBe('PUSH_LOG_UNAVAILABLE');
    expect(err?.details).toContain('offline push log');
    const got = await h.client.getOnlineFeatures({ features: ['driver_stats:trips_today'], entities: { driver_id: [31] } });
    expect(got.column('trips_today').statuses).toEqual(['NOT_FOUND']);
    // Without to_offline the same server still pushes online.
    expect(await h.client.push('driver_stats', { driver_id: [32], event_timestamp: [NOW], trips_today: [32] })).toEqual({ written: 1, stale: 0, offlineRows: 0 });
  });

  it('HTTP: 503 with reason PUSH_LOG_UNAVAILABLE, and nothing of the batch online', async () => {
    const r = await postJson(`${h.http}/v1/push`, { feature_view: 'customer_stats', columns: { customer_id: ['c31'], event_timestamp: [NOW], orders: [31] }, to_offline: true });
    expect([r.status, r.body.error.reason]).toEqual([503, 'PUSH_LOG_UNAVAILABLE']);
    const back = await postJson(`${h.http}/v1/get-online-features`, { features: ['customer_stats:orders'], entities: { customer_id: ['c31'] } });
    expect(back.body.results[0].statuses).toEqual(['NOT_FOUND']);
  });

  it('a server without a push log answers to_offline with PUSH_LOG_UNAVAILABLE', async () => {
    const { pushToOnline } = await import('../../src/app/serving.ts');
    const push = pushToOnline(h.store);
    await expect(push(h.snapshot, 'driver_stats', { driver_id: [33], event_timestamp: [NOW], trips_today: [1] }, { toOffline: true })).rejects.toMatchObject({ reason: 'PUSH_LOG_UNAVAILABLE' });
  });
});
