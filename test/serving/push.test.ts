/**
 * Push through gRPC and HTTP into a real Redis: the same checks as `pitstop push` (a bad batch is
 * rejected whole, naming row and field, and writes nothing), newer event time wins, and pushed
 * rows are served right away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { pushToOnline } from '../../src/app/serving.ts';
import type { PitstopCallError } from '../../src/client/client.ts';
import { NOW } from './fixture.ts';
import { postJson, startHarness, type Harness } from './harness.ts';

describe('push', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ store: 'redis', push: pushToOnline });
  });
  afterAll(async () => h?.close());

  it('gRPC: rows are written, newer event time wins, and they are served at once', async () => {
    const r = await h.client.push('driver_stats', {
      driver_id: [5, 6],
      event_timestamp: [new Date(NOW - 1000), new Date(NOW - 1000)],
      trips_today: [50, 60],
      rating: [3.5, null],
    });
    expect(r).toEqual({ written: 2, stale: 0, offlineRows: 0 });
    const older = await h.client.push('driver_stats', { driver_id: [5], event_timestamp: [new Date(NOW - 5000)], trips_today: [1] });
    expect(older).toEqual({ written: 0, stale: 1, offlineRows: 0 });
    const got = await h.client.getOnlineFeatures({ features: ['driver_stats:trips_today', 'driver_stats:rating'], entities: { driver_id: [5, 6] } });
    expect(got.column('trips_today').values).toEqual([50n, 60n]);
    expect(got.column('rating').statuses).toEqual(['PRESENT', 'NULL_VALUE']);
    expect(got.column('trips_today').eventTimestampsMs).toEqual([NOW - 1000, NOW - 1000]);
  });

  it('gRPC: a bad batch is INVALID_ARGUMENT naming row and field, and writes nothing', async () => {
    let err: PitstopCallError | undefined;
    try {
      await h.client.push('driver_stats', { driver_id: [7, 8], event_timestamp: [NOW, NOW], trips_today: [1, 'many'] });
    } catch (e) {
      err = e as PitstopCallError;
    }
    expect(err?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(err?.reason).toBe('PUSH_ROWS_INVALID');
    expect(err?.details).toContain('trips_today');
    const got = await h.client.getOnlineFeatures({ features: ['driver_stats:trips_today'], entities: { driver_id: [7, 8] } });
    expect(got.column('trips_today').statuses).toEqual(['NOT_FOUND', 'NOT_FOUND']);
  });

  it('HTTP: push JSON columns, then read them back', async () => {
    const ok = await postJson(`${h.http}/v1/push`, { feature_view: 'customer_stats', columns: { customer_id: ['c9'], event_timestamp: [NOW], orders: [4] } });
    expect(ok).toEqual({ status: 200, body: { written: 1, stale: 0, offline_rows: 0 } });
    const back = await postJson(`${h.http}/v1/get-online-features`, { features: ['customer_stats:orders'], entities: { customer_id: ['c9'] } });
    expect(back.body.results[0].values).toEqual([4]);
    const bad = await postJson(`${h.http}/v1/push`, { feature_view: 'customer_stats', columns: { customer_id: ['c10'], event_timestamp: [NOW], order: [4] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.reason).toBe('PUSH_ROWS_INVALID');
    expect(bad.body.error.message).toContain('order');
    const unknownView = await postJson(`${h.http}/v1/push`, { feature_view: 'nope', columns: {} });
    expect([unknownView.status, unknownView.body.error.reason]).toEqual([400, 'UNKNOWN_FEATURE_VIEW']);
  });

  it('HTTP: bytes (join keys, bytes and list<bytes> features) are base64 text; text that is not base64 names row and field', async () => {
    const ok = await postJson(`${h.http}/v1/push`, {
      feature_view: 'device_stats',
      columns: { device_id: ['AQI=', 'AQM'], event_timestamp: [NOW, NOW], battery: [55, 56], hashes: [['AAE=', '/w=='], []] },
    });
    expect(ok).toEqual({ status: 200, body: { written: 2, stale: 0, offline_rows: 0 } });
    const back = await postJson(`${h.http}/v1/get-online-features`, { features: ['device_stats:battery', 'device_stats:hashes'], entities: { device_id: ['AQI=', 'AQM='] } });
    expect(back.body.results[0].values).toEqual([55, 56]);
    expect(back.body.results[1].values).toEqual([['AAE=', '/w=='], []]);
    // The same row over gRPC: real bytes.
    const viaGrpc = await h.client.getOnlineFeatures({ features: ['device_stats:hashes'], entities: { device_id: [Buffer.from([1, 2])] } });
    expect(viaGrpc.column('hashes').values).toEqual([[Buffer.from([0, 1]), Buffer.from([255])]]);

    for (const [columns, path] of [
      [{ device_id: ['BAU='], event_timestamp: [NOW], battery: [1], hashes: [['AAE=', 'no way']] }, 'rows[0].hashes[1]'],
      [{ device_id: ['%%'], event_timestamp: [NOW], battery: [1] }, 'rows[0].device_id'],
    ] as const) {
      const bad = await postJson(`${h.http}/v1/push`, { feature_view: 'device_stats', columns });
      expect(bad.status).toBe(400);
      expect(bad.body.error.reason).toBe('PUSH_ROWS_INVALID');
      expect(bad.body.error.message).toContain(path);
      expect(bad.body.error.message).toContain('is not base64');
    }
    const none = await postJson(`${h.http}/v1/get-online-features`, { features: ['device_stats:battery'], entities: { device_id: ['BAU='] } });
    expect(none.body.results[0].statuses).toEqual(['NOT_FOUND']);
  });
});
