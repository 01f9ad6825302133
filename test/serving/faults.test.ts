/**
 * Faults and lifecycle against a real redis-server: client deadlines, Redis slow or gone
 * (UNAVAILABLE / DEADLINE_EXCEEDED within the deadline, recovery without a restart), registry
 * swap with a request in flight, graceful shutdown draining in-flight requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { PitstopCallError } from '../../src/client/client.ts';
import { rawCommand } from '../support/redis-server.ts';
import { servingRows, servingSnapshot } from './fixture.ts';
import { gatedReader, startHarness, type Harness } from './harness.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { PROTO_LOADER_OPTIONS } from '../../src/serving/proto.ts';

/** Streams the standard health Watch of the whole server; returns the statuses seen so far. */
function watchHealth(port: number): { seen: string[]; stop(): void } {
  const def = protoLoader.loadSync(healthProtoPath, PROTO_LOADER_OPTIONS);
  const watch = (def['grpc.health.v1.Health'] as protoLoader.ServiceDefinition).Watch;
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const seen: string[] = [];
  const call = client.makeServerStreamRequest(watch.path, watch.requestSerialize, watch.responseDeserialize, { service: '' });
  call.on('data', (m: { status: string }) => seen.push(String(m.status)));
  call.on('error', () => {});
  return {
    seen,
    stop() {
      call.cancel();
      client.close();
    },
  };
}

async function failure(p: Promise<unknown>): Promise<PitstopCallError> {
  try {
    await p;
  } catch (e) {
    return e as PitstopCallError;
  }
  throw new Error('expected the call to fail');
}

const lookup = { features: ['driver_stats:trips_today'], entities: { driver_id: [1] } };

describe('faults', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ store: 'redis', redisArgs: ['--enable-debug-command', 'yes'] });
  });
  afterAll(async () => h?.close());

  it('a slow Redis: the client deadline is honoured (DEADLINE_EXCEEDED, no hang)', async () => {
    // DEBUG SLEEP blocks the real redis-server for 400 ms.
    const sleeping = rawCommand(h.redis!.port, 'DEBUG SLEEP 0.4', 2000);
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    const e = await failure(h.client.getOnlineFeatures(lookup, { timeoutMs: 100 }));
    expect(e.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(Date.now() - t0).toBeLessThan(350);
    // The server saw the deadline too and gave up on its side.
    expect(await sleeping).toBe('+OK\r\n');
    const text = await (await fetch(`${h.http}/metrics`)).text();
    expect(text).toMatch(/pitstop_request_errors_total\{transport="grpc",method="GetOnlineFeatures",code="DEADLINE_EXCEEDED"\} [1-9]/);
    // and serves normally right after
    expect((await h.client.getOnlineFeatures(lookup)).column('trips_today').values).toEqual([12n]);
  });

  it('a slow Redis over HTTP: the x-pitstop-timeout-ms deadline is honoured (504 DEADLINE_EXCEEDED, no hang)', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${h.http}/v1/get-online-features`, { method: 'POST', headers, body: JSON.stringify(lookup) });
    const sleeping = rawCommand(h.redis!.port, 'DEBUG SLEEP 0.4', 2000);
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    const late = await post({ 'x-pitstop-timeout-ms': '100' });
    const waited = Date.now() - t0;
    expect(late.status).toBe(504);
    const body = (await late.json()) as { error: { code: string; reason: string; message: string } };
    expect(body.error.code).toBe('DEADLINE_EXCEEDED');
    expect(body.error.message).toContain('100 ms');
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(waited).toBeLessThan(350);
    expect(await sleeping).toBe('+OK\r\n');
    const text = await (await fetch(`${h.http}/metrics`)).text();
    expect(text).toMatch(/pitstop_request_errors_total\{transport="http",method="get-online-features",code="DEADLINE_EXCEEDED"\} [1-9]/);
    // A deadline with room to spare answers normally; a malformed one is refused, naming the header.
    const ok = await post({ 'x-pitstop-timeout-ms': '2000' });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).results[0].values).toEqual([12]);
    for (const bad of ['0', '-5', '1.5', 'soon', '99999999']) {
      const refused = await post({ 'x-pitstop-timeout-ms': bad });
      expect(refused.status, bad).toBe(400);
      expect(((await refused.json()) as any).error.message).toContain(`x-pitstop-timeout-ms must be a whole number of milliseconds from 1 to 3600000, got "${bad}"`);
    }
  });

  it('Redis gone: UNAVAILABLE fast; Redis back: served again without a restart', async () => {
    await h.redis!.stop();
    const t0 = Date.now();
    const e = await failure(h.client.getOnlineFeatures(lookup, { timeoutMs: 2000 }));
    expect(e.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(e.reason).toBe('ONLINE_STORE_UNAVAILABLE');
    expect(Date.now() - t0).toBeLessThan(1000);
    const notReady = await fetch(`${h.http}/readyz`);
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { reason: string }).reason).toBe('ONLINE_STORE_UNAVAILABLE');
    const http = await fetch(`${h.http}/v1/get-online-features`, { method: 'POST', body: JSON.stringify({ features: lookup.features, entities: lookup.entities }) });
    expect(http.status).toBe(503);

    await h.redis!.restart(); // empty again: rewrite the rows
    let answer;
    for (let i = 0; i < 60 && !answer; i++) {
      try {
        await h.store.writeRows(servingRows(h.snapshot));
        answer = await h.client.getOnlineFeatures(lookup, { timeoutMs: 500 });
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(answer?.column('trips_today').values).toEqual([12n]);
    expect((await fetch(`${h.http}/readyz`)).status).toBe(200);
  });
});

describe('unexpected errors', () => {
  it('become INTERNAL without details on both transports; the stack is logged on the server', async () => {
    const logged: string[] = [];
    const h = await startHarness({
      store: 'embedded',
      log: (l) => logged.push(l),
      reader: (inner) => ({
        readRows: async () => {
          throw new TypeError('secret detail from inside the store');
        },
        readSpans: async () => {
          throw new TypeError('secret detail from inside the store');
        },
        ping: () => inner.ping(),
        close: () => inner.close(),
      }),
    });
    try {
      const e = await failure(h.client.getOnlineFeatures(lookup));
      expect([e.code, e.details, e.reason]).toEqual([GrpcStatus.INTERNAL, 'internal error', 'INTERNAL']);
      const http = await fetch(`${h.http}/v1/get-online-features`, { method: 'POST', body: JSON.stringify(lookup) });
      expect(http.status).toBe(500);
      const text = await http.text();
      expect(text).not.toContain('secret');
      expect(JSON.parse(text).error).toEqual({ code: 'INTERNAL', reason: 'INTERNAL', message: 'internal error' });
      expect(logged.filter((l) => l.includes('secret detail from inside the store') && l.includes('TypeError') && l.includes(' at '))).toHaveLength(2);
    } finally {
      await h.close();
    }
  });
});

describe('registry swap and shutdown', () => {
  it('a new registry version is served without a restart; a request in flight finishes on its snapshot', async () => {
    let gate!: ReturnType<typeof gatedReader>;
    const h = await startHarness({ store: 'redis', reader: (s) => (gate = gatedReader(s)) });
    try {
      const before = await failure(h.client.getOnlineFeatures({ featureService: 'fresh', entities: { driver_id: [1] } }));
      expect(before.reason).toBe('UNKNOWN_FEATURE_SERVICE');
      gate.hold();
      const inflight = h.client.getOnlineFeatures({ featureService: 'ranking', entities: { driver_id: [1] } });
      while (gate.waiting() === 0) await new Promise((r) => setTimeout(r, 5));
      const v2 = servingSnapshotV2();
      expect(h.holder.apply(v2)).toBe(true);
      gate.release();
      const old = await inflight;
      expect(old.registryVersion).toBe(1);
      expect(old.featureNames).toEqual(['trips_today', 'rating', 'vehicle']);
      const fresh = await h.client.getOnlineFeatures({ featureService: 'fresh', entities: { driver_id: [1] } });
      expect(fresh.registryVersion).toBe(2);
      expect(fresh.column('rating').values).toEqual([4.5]);
      expect(await (await fetch(`${h.http}/metrics`)).text()).toMatch(/pitstop_registry_version 2/);
    } finally {
      await h.close();
    }
  });

  it('graceful shutdown: NOT_SERVING, in-flight requests drain, then connections close', async () => {
    let gate!: ReturnType<typeof gatedReader>;
    const h = await startHarness({ store: 'redis', reader: (s) => (gate = gatedReader(s)) });
    try {
      expect(await h.client.health()).toBe('SERVING');
      const watch = watchHealth(h.server.grpcPort);
      while (watch.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
      expect(watch.seen).toEqual(['SERVING']);
      gate.hold();
      const inflight = h.client.getOnlineFeatures(lookup, { timeoutMs: 5000 });
      const inflightHttp = fetch(`${h.http}/v1/get-online-features`, { method: 'POST', body: JSON.stringify(lookup) });
      while (gate.waiting() < 2) await new Promise((r) => setTimeout(r, 5));
      const closing = h.server.close(5000);
      await new Promise((r) => setTimeout(r, 50));
      let closed = false;
      void closing.then(() => (closed = true));
      expect(closed).toBe(false); // still draining
      expect(watch.seen).toEqual(['SERVING', 'NOT_SERVING']); // health flipped before the drain
      watch.stop();
      gate.release();
      expect((await inflight).column('trips_today').values).toEqual([12n]);
      expect((await inflightHttp).status).toBe(200);
      await closing;
      const after = await failure(h.client.getOnlineFeatures(lookup, { timeoutMs: 500 }));
      expect([GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED]).toContain(after.code);
      await expect(fetch(`${h.http}/healthz`)).rejects.toThrow();
    } finally {
      await h.close();
    }
  });
});

/** Version 2 of the fixture registry: the same views plus a new feature service. */
function servingSnapshotV2() {
  const v1 = servingSnapshot();
  const v2 = buildSnapshot({ version: 2, views: [], services: {} });
  return {
    ...v1,
    version: 2,
    hash: v2.hash,
    parentHash: v1.hash,
    featureServices: { ...v1.featureServices, fresh: { name: 'fresh', tags: {}, features: [{ view: 'driver_stats', version: 1, feature: 'rating', pinned: false }] } },
  };
}
