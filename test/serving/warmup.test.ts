/**
 * The start-up warm-up (`serving.warmup_ms`, src/app/warmup.ts): a server that is warming up
 * says so (/readyz 503 WARMING_UP, gRPC health NOT_SERVING) while it serves what comes; the
 * warm-up sends lookups over the server's own gRPC port for every feature service, with made-up
 * keys of each join key's type; and it never fails the start, whatever the store does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackAddress, serviceJoinKeys, warmUp } from '../../src/app/warmup.ts';
import type { RegistrySnapshot } from '../../src/core/registry-model.ts';
import { startHarness, type Harness } from './harness.ts';

describe('start-up warm-up', () => {
  let h: Harness;
  // The fixture's services are keyed by driver_id (int64); two more cover string and bytes keys.
  const ref = (view: string, feature: string) => ({ view, version: 1, feature, pinned: false });
  const withKeyTypes = (s: RegistrySnapshot): RegistrySnapshot => ({
    ...s,
    featureServices: {
      ...s.featureServices,
      by_customer: { name: 'by_customer', tags: {}, features: [ref('customer_stats', 'orders')] },
      by_device: { name: 'by_device', tags: {}, features: [ref('device_stats', 'battery')] },
    },
  });
  beforeAll(async () => {
    h = await startHarness({ store: 'embedded', warmingUp: true, snapshot: withKeyTypes });
  });
  afterAll(() => h.close());

  it('while warming up: not ready, NOT_SERVING, yet lookups are answered; warmedUp() makes it ready and SERVING', async () => {
    const ready = await fetch(`${h.http}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, reason: 'WARMING_UP' });
    expect(await h.client.health()).toBe('NOT_SERVING');
    const raw = await h.client.getOnlineFeaturesRaw({ featureService: 'ranking', entities: { driver_id: [1] } });
    expect(raw.length).toBeGreaterThan(0);

    const snapshot = h.snapshot;
    expect(['by_customer', 'by_device'].map((s) => serviceJoinKeys(snapshot, s).map((k) => k.type))).toEqual([['string'], ['bytes']]);
    const services = Object.keys(snapshot.featureServices);
    // Within the server's entity limit (the harness's is 50): over it, every batch call would fail.
    const result = await warmUp(loopbackAddress('0.0.0.0', h.server.grpcPort), snapshot, 300, 50);
    // Every call answered (made-up int64, string and bytes keys all accepted), one at a time, for the time asked.
    expect(result.failed).toBe(0);
    expect(result.calls).toBeGreaterThan(services.length);
    expect(result.ms).toBeGreaterThanOrEqual(300);
    expect(result.ms).toBeLessThan(1500);
    const metrics = await (await fetch(`${h.http}/metrics`)).text();
    for (const name of services) {
      // Each feature service was looked up, over gRPC.
      expect(metrics).toMatch(new RegExp(`pitstop_request_duration_seconds_count\\{transport="grpc",method="GetOnlineFeatures",feature_service="${name}"\\} [1-9]`));
    }

    h.server.warmedUp();
    expect((await fetch(`${h.http}/readyz`)).status).toBe(200);
    expect(await h.client.health()).toBe('SERVING');
  });

  it('a warm-up against no server finishes on time, every call failed', async () => {
    const dead = await warmUp('127.0.0.1:1', h.snapshot, 200);
    expect(dead.ms).toBeLessThan(1500);
    expect(dead.calls).toBeGreaterThan(0);
    expect(dead.failed).toBe(dead.calls);
  });

  it('the loopback address of a bound host', () => {
    expect(loopbackAddress('0.0.0.0', 5)).toBe('127.0.0.1:5');
    expect(loopbackAddress('::', 5)).toBe('[::1]:5');
    expect(loopbackAddress('10.1.2.3', 5)).toBe('10.1.2.3:5');
    expect(loopbackAddress('fd00::1', 5)).toBe('[fd00::1]:5');
  });
});
