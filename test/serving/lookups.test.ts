/**
 * Online lookups through both transports over real stores (Redis from the harness, and the
 * embedded store): statuses, versions, services, full names, errors naming the culprit, limits,
 * the feature service listing, health, readiness and metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { PROTO_LOADER_OPTIONS } from '../../src/serving/proto.ts';
import type { PitstopCallError } from '../../src/client/client.ts';
import { DEVICE, HOUR, NOW } from './fixture.ts';
import { postJson, startHarness, type Harness } from './harness.ts';

async function grpcError(p: Promise<unknown>): Promise<PitstopCallError> {
  try {
    await p;
  } catch (e) {
    return e as PitstopCallError;
  }
  throw new Error('expected the call to fail');
}

describe.each(['redis', 'redis-near-cache', 'embedded'] as const)('lookups over the %s store', (storeType) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(storeType === 'redis-near-cache' ? { store: 'redis', nearCacheBytes: 1 << 20 } : { store: storeType });
  });
  afterAll(async () => h?.close());

  it('gRPC: column-major values with all four statuses and event timestamps', async () => {
    const r = await h.client.getOnlineFeatures({
      features: ['driver_stats:trips_today', 'driver_stats:rating', 'driver_profile:vehicle'],
      entities: { driver_id: [1, 2, 3] },
    });
    expect(r.featureNames).toEqual(['trips_today', 'rating', 'vehicle']);
    expect(r.registryVersion).toBe(1);
    const trips = r.column('trips_today');
    expect(trips.values).toEqual([12n, 7n, null]);
    // driver 2's driver_stats row is 3 h old, the view's ttl is 2 h: the value comes back, flagged.
    expect(trips.statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(trips.eventTimestampsMs[0]).toBeGreaterThan(NOW - 120_000);
    expect(trips.eventTimestampsMs[2]).toBe(0);
    expect(r.column('rating').statuses).toEqual(['PRESENT', 'NULL_VALUE', 'NOT_FOUND']);
    expect(r.column('rating').values).toEqual([4.5, null, null]);
    expect(r.column('vehicle').values).toEqual(['van', null, null]);
  });

  it('event timestamps per feature, per view or none: the same columns over gRPC and HTTP', async () => {
    const features = ['driver_stats:trips_today', 'driver_profile:vehicle', 'driver_stats:rating', 'driver_profile:seats'];
    const entities = { driver_id: [1, 2, 3] };
    const perFeature = await h.client.getOnlineFeatures({ features, entities, eventTimestamps: 'per_feature' });
    const perView = await h.client.getOnlineFeatures({ features, entities, eventTimestamps: 'per_view' });
    const none = await h.client.getOnlineFeatures({ features, entities, eventTimestamps: 'none' });
    expect(perFeature.column('trips_today').eventTimestampsMs[0]).toBeGreaterThan(NOW - 120_000);
    expect(perFeature.column('rating').eventTimestampsMs).toEqual(perFeature.column('trips_today').eventTimestampsMs);
    expect(perView.results).toEqual(perFeature.results);
    expect(none.results.map((c) => c.eventTimestampsMs)).toEqual([[], [], [], []]);
    expect(none.results.map((c) => c.values)).toEqual(perFeature.results.map((c) => c.values));
    const raw = async (eventTimestamps: 'per_feature' | 'per_view' | 'none') => (await h.client.getOnlineFeaturesRaw({ features, entities, eventTimestamps })).length;
    expect(await raw('per_view')).toBeLessThan(await raw('per_feature'));
    // The typed client refuses a mode it does not know before sending anything.
    expect(() => h.client.getOnlineFeatures({ features, entities, eventTimestamps: 'per_row' as 'none' })).toThrow(/eventTimestamps must be .*got "per_row"/);

    const json = async (event_timestamps?: string) => postJson(`${h.http}/v1/get-online-features`, { features, entities, event_timestamps });
    const jFeature = (await json()).body;
    const jView = await json('per_view');
    expect(jView.status).toBe(200);
    expect(jView.body.results.map((r: any) => r.event_timestamps_from)).toEqual([undefined, undefined, 0, 1]);
    expect(jView.body.results[1].event_timestamps_ms).toEqual(jFeature.results[3].event_timestamps_ms);
    expect(jView.body.results[3].event_timestamps_ms).toBeUndefined();
    expect((await json('none')).body.results.map((r: any) => Object.keys(r))).toEqual(features.map(() => ['values', 'statuses']));
    const bad = await json('per_row');
    expect(bad.status).toBe(400);
    expect(bad.body.error.reason).toBe('BAD_REQUEST');
    expect(bad.body.error.message).toMatch(/event_timestamps must be .*got "per_row"/);
  });

  it('gRPC: pinned versions, feature services and full feature names', async () => {
    const pinned = await h.client.getOnlineFeatures({ features: ['driver_profile@1:vehicle', 'driver_profile:seats'], entities: { driver_id: [1] } });
    expect(pinned.column('vehicle').values).toEqual(['old-van']);
    expect(pinned.column('seats').values).toEqual([7]);
    const svc = await h.client.getOnlineFeatures({ featureService: 'ranking_v1', entities: { driver_id: [1, 9] }, fullFeatureNames: true });
    expect(svc.featureNames).toEqual(['driver_stats__trips_today', 'driver_profile__vehicle']);
    expect(svc.column('driver_profile__vehicle').values).toEqual(['old-van', null]);
    expect(svc.column('driver_stats__trips_today').statuses).toEqual(['PRESENT', 'NOT_FOUND']);
    const strKey = await h.client.getOnlineFeatures({ features: ['customer_stats:orders'], entities: { customer_id: ['c1', 'c2'] } });
    expect(strKey.column('orders').values).toEqual([3n, null]);
  });

  it('gRPC: many concurrent lookups of different sizes each get their own answer', async () => {
    // The server encodes every response into one reused buffer (grpc-js copies it at once); any
    // answer sent from that buffer after another was encoded into it would show up here: the
    // 60 answers are written to the connection while later ones are being encoded.
    const expected = new Map<number, bigint | null>([[1, 12n], [2, 7n], [3, null]]);
    const calls = Array.from({ length: 60 }, (_, k) => {
      const n = k % 3 === 0 ? 50 : 1 + (k % 7);
      const ids = Array.from({ length: n }, (_, i) => 1 + ((i + k) % 3));
      return { ids, answer: h.client.getOnlineFeatures({ features: ['driver_stats:trips_today', 'driver_profile:vehicle'], entities: { driver_id: ids } }) };
    });
    for (const { ids, answer } of calls) {
      const r = await answer;
      expect(r.column('trips_today').values).toEqual(ids.map((id) => expected.get(id)));
      expect(r.column('vehicle').values).toEqual(ids.map((id) => (id === 1 ? 'van' : null)));
    }
  });

  it('HTTP: the same lookup as JSON', async () => {
    const { status, body } = await postJson(`${h.http}/v1/get-online-features`, {
      feature_service: 'ranking',
      entities: { driver_id: [1, 2, 3] },
    });
    expect(status).toBe(200);
    expect(body.metadata).toEqual({ feature_names: ['trips_today', 'rating', 'vehicle'], registry_version: 1 });
    expect(body.results[0].values).toEqual([12, 7, null]);
    expect(body.results[0].statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(body.results[1].statuses).toEqual(['PRESENT', 'NULL_VALUE', 'NOT_FOUND']);
    expect(body.results[2].event_timestamps_ms[0]).toBeGreaterThan(NOW - 2 * HOUR);
  });

  it('bytes join keys: Buffers over gRPC, base64 text over HTTP (padded or not); bad base64 names the value', async () => {
    const viaGrpc = await h.client.getOnlineFeatures({ features: ['device_stats:battery'], entities: { device_id: [DEVICE, Buffer.from('other')] } });
    expect(viaGrpc.column('battery').values).toEqual([80, null]);
    expect(viaGrpc.column('battery').statuses).toEqual(['PRESENT', 'NOT_FOUND']);
    const viaHttp = await postJson(`${h.http}/v1/get-online-features`, { features: ['device_stats:battery'], entities: { device_id: ['3q2+7w==', '3q2+7w', 'b3RoZXI='] } });
    expect(viaHttp.status).toBe(200);
    expect(viaHttp.body.results[0].values).toEqual([80, 80, null]);
    expect(viaHttp.body.results[0].statuses).toEqual(['PRESENT', 'PRESENT', 'NOT_FOUND']);
    for (const [bad, at] of [[['3q2+7w==', 'not base64!'], 1], [['3q2+7'], 0], [[12], 0]] as const) {
      const refused = await postJson(`${h.http}/v1/get-online-features`, { features: ['device_stats:battery'], entities: { device_id: bad } });
      expect(refused.status, JSON.stringify(bad)).toBe(400);
      expect(refused.body.error.reason).toBe('VALUE_TYPE_MISMATCH');
      expect(refused.body.error.message).toContain(`entities.device_id[${at}]`);
    }
  });

  it('bad requests are INVALID_ARGUMENT naming the culprit (gRPC and HTTP)', async () => {
    const unknown = await grpcError(h.client.getOnlineFeatures({ features: ['driver_stats:nope'], entities: { driver_id: [1] } }));
    expect(unknown.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(unknown.reason).toBe('UNKNOWN_FEATURE');
    expect(unknown.details).toContain('nope');
    const badKey = await grpcError(h.client.getOnlineFeatures({ features: ['driver_stats:rating'], entities: { driver_id: [1, 'abc'] } }));
    expect(badKey.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(badKey.reason).toBe('VALUE_TYPE_MISMATCH');
    expect(badKey.details).toContain('entities.driver_id[1]');
    expect(badKey.details).toContain('int64');
    const missing = await grpcError(h.client.getOnlineFeatures({ features: ['driver_stats:rating'], entities: { customer_id: ['c1'] } }));
    expect(missing.reason).toBe('BAD_REQUEST');
    expect(missing.details).toContain('driver_id');
    const svc = await grpcError(h.client.getOnlineFeatures({ featureService: 'nope', entities: { driver_id: [1] } }));
    expect(svc.reason).toBe('UNKNOWN_FEATURE_SERVICE');

    const garbage = await new Promise<grpc.ServiceError>((resolve) => {
      const raw = new grpc.Client(`127.0.0.1:${h.server.grpcPort}`, grpc.credentials.createInsecure());
      raw.makeUnaryRequest('/pitstop.serving.v1.ServingService/GetOnlineFeatures', (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x1a, 0x7f, 0x0a]), (e) => {
        raw.close();
        resolve(e!);
      });
    });
    expect([garbage.code, garbage.details]).toEqual([GrpcStatus.INVALID_ARGUMENT, expect.stringContaining('malformed GetOnlineFeaturesRequest')]);

    const http = await postJson(`${h.http}/v1/get-online-features`, { features: ['driver_stats:rating'], entities: { driver_id: ['x'] } });
    expect(http.status).toBe(400);
    expect(http.body.error.reason).toBe('VALUE_TYPE_MISMATCH');
    expect(http.body.error.message).toContain('driver_id');
    const notJson = await fetch(`${h.http}/v1/get-online-features`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
  });

  it('limits on entities, features and message size answer INVALID_ARGUMENT (LIMIT_EXCEEDED)', async () => {
    const entities = await grpcError(h.client.getOnlineFeatures({ features: ['driver_stats:rating'], entities: { driver_id: Array.from({ length: 51 }, (_, i) => i) } }));
    expect([entities.code, entities.reason]).toEqual([GrpcStatus.INVALID_ARGUMENT, 'LIMIT_EXCEEDED']);
    const features = await grpcError(h.client.getOnlineFeatures({ features: Array.from({ length: 21 }, () => 'driver_stats:rating'), entities: { driver_id: [1] } }));
    expect([features.code, features.reason]).toEqual([GrpcStatus.INVALID_ARGUMENT, 'LIMIT_EXCEEDED']);
    const big = await grpcError(h.client.getOnlineFeatures({ features: ['driver_stats:rating'], entities: { driver_id: [1], pad: ['x'.repeat(70 * 1024)] } }));
    expect([big.code, big.reason]).toEqual([GrpcStatus.INVALID_ARGUMENT, 'LIMIT_EXCEEDED']);
    const httpBig = await postJson(`${h.http}/v1/get-online-features`, { features: ['driver_stats:rating'], entities: { driver_id: [1] }, pad: 'x'.repeat(70 * 1024) });
    expect([httpBig.status, httpBig.body.error.reason]).toEqual([400, 'LIMIT_EXCEEDED']);
  });

  it('lists feature services with their features, types and the registry version', async () => {
    const list = await h.client.listFeatureServices();
    expect(list.registry_version).toBe('1');
    expect(list.registry_hash).toBe(h.snapshot.hash);
    const ranking = list.services.find((s) => s.name === 'ranking')!;
    expect(ranking.features.map((f) => [f.ref, f.type])).toEqual([
      ['driver_stats@1:trips_today', 'int64'],
      ['driver_stats@1:rating', 'float64'],
      ['driver_profile@2:vehicle', 'string'],
    ]);
  });

  it('server reflection lists the serving service', async () => {
    const file = createRequire(import.meta.url).resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
    const def = protoLoader.loadSync(file, PROTO_LOADER_OPTIONS);
    const m = (def['grpc.reflection.v1.ServerReflection'] as protoLoader.ServiceDefinition).ServerReflectionInfo;
    const client = new grpc.Client(`127.0.0.1:${h.server.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const names = await new Promise<string[]>((resolve, reject) => {
        const call = client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize);
        call.on('data', (r: any) => {
          resolve(r.list_services_response.service.map((x: { name: string }) => x.name));
          call.end();
        });
        call.on('error', reject);
        call.write({ list_services: '' });
      });
      expect(names).toEqual(expect.arrayContaining(['pitstop.serving.v1.ServingService']));
    } finally {
      client.close();
    }
  });

  it('health, readiness and Prometheus metrics', async () => {
    expect(await h.client.health()).toBe('SERVING');
    expect(await h.client.health('')).toBe('SERVING');
    expect((await fetch(`${h.http}/healthz`)).status).toBe(200);
    const ready = await fetch(`${h.http}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, registry_version: 1 });
    await h.client.getOnlineFeatures({ featureService: 'ranking', entities: { driver_id: [1] } });
    // A service name the registry does not have is not a label of its own (any string a client
    // sends would otherwise become a new series).
    await expect(h.client.getOnlineFeatures({ featureService: 'no_such_service_4711', entities: { driver_id: [1] } })).rejects.toThrow(/no_such_service_4711/);
    const text = await (await fetch(`${h.http}/metrics`)).text();
    expect(text).toMatch(/pitstop_request_duration_seconds_count\{transport="grpc",method="GetOnlineFeatures",feature_service="_unknown"\} [1-9]/);
    expect(text).not.toContain('no_such_service_4711');
    expect(text).toMatch(/pitstop_request_duration_seconds_count\{transport="grpc",method="GetOnlineFeatures",feature_service="ranking"\} [1-9]/);
    expect(text).toMatch(/pitstop_requests_total\{transport="grpc",method="GetOnlineFeatures",code="INVALID_ARGUMENT"\} [1-9]/);
    expect(text).toMatch(/pitstop_request_errors_total\{.*code="INVALID_ARGUMENT"\} [1-9]/);
    expect(text).toMatch(/pitstop_request_duration_seconds_count\{transport="http",method="get-online-features",feature_service="ranking"\} [1-9]/);
    expect(text).toMatch(/pitstop_online_read_duration_seconds_count\{outcome="ok"\} [1-9]/);
    expect(text).toMatch(/pitstop_registry_version 1/);
    expect(text).toMatch(/pitstop_served_value_age_seconds_count [1-9]/);
    // The HTTP/2 layer: the typed client's connection is open; no guard has turned anyone away.
    expect(text).toMatch(/^pitstop_grpc_connections [1-9]/m);
    expect(text).toMatch(/^pitstop_grpc_streams_refused_total 0$/m);
    expect(text).toMatch(/^pitstop_grpc_streams_malformed_total 0$/m);
    expect(text).toMatch(/^# TYPE pitstop_grpc_connections_retired_total counter$/m);
    expect(text).toMatch(/^# TYPE pitstop_grpc_connection_errors_total counter$/m);
    // The process's own: CPU, memory, event-loop delay, GC pauses by kind.
    expect(text).toMatch(/^process_cpu_seconds_total [0-9.e-]+$/m);
    expect(text).toMatch(/^process_resident_memory_bytes [1-9]/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds [0-9.e-]+$/m);
    expect(text).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
    if (storeType === 'redis-near-cache') {
      // the same lookup twice: the second is served from the near cache
      await h.client.getOnlineFeatures({ featureService: 'ranking', entities: { driver_id: [1] } });
      await h.client.getOnlineFeatures({ featureService: 'ranking', entities: { driver_id: [1] } });
      const after = await (await fetch(`${h.http}/metrics`)).text();
      expect(after).toMatch(/pitstop_near_cache_hits_total [1-9]/);
      expect(after).toMatch(/pitstop_near_cache_misses_total [1-9]/);
      expect(after).toMatch(/pitstop_near_cache_entries [1-9]/);
    } else {
      expect(text).not.toContain('pitstop_near_cache');
    }
  });
});
