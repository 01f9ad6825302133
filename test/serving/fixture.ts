/**
 * Shared fixture of the serving tests: a small registry (drivers with two views, one with a ttl,
 * one with two versions; a customer view keyed by string, a device view keyed by bytes) and rows
 * to store.
 */
import { buildSnapshot } from '../support/snapshot.ts';
import { EntityKeyEncoder } from '../../src/online/entity-key.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { viewStorageId, type OnlineWrite } from '../../src/online/ports.ts';
import type { RegistrySnapshot } from '../../src/core/registry-model.ts';
import { lookupView } from '../../src/registry/resolve.ts';

export const NOW = Date.now();
export const HOUR = 3_600_000;
/** The one stored device (a bytes join key): base64 `3q2+7w==`. */
export const DEVICE = Buffer.from([0xde, 0xad, 0xbe, 0xef]);

export function servingSnapshot(version = 1, extra: { addFeature?: boolean } = {}): RegistrySnapshot {
  return buildSnapshot({
    version,
    views: [
      {
        name: 'driver_stats',
        entities: { driver: { driver_id: 'int64' } },
        source: { path: 'data/driver_stats.parquet' },
        ttlMs: 2 * HOUR,
        features: { trips_today: 'int64', rating: 'float64', ...(extra.addFeature ? { city: 'string' } : {}) },
      },
      {
        name: 'driver_profile',
        entities: { driver: { driver_id: 'int64' } },
        source: { path: 'data/driver_profile.parquet' },
        olderVersions: [{ vehicle: 'string' }],
        features: { vehicle: 'string', seats: 'int32', tags: 'list<string>' },
      },
      {
        name: 'customer_stats',
        entities: { customer: { customer_id: 'string' } },
        source: { path: 'data/customers.parquet' },
        features: { orders: 'int64' },
      },
      {
        name: 'device_stats',
        entities: { device: { device_id: 'bytes' } },
        source: { path: 'data/devices.parquet' },
        features: { battery: 'int32', hashes: 'list<bytes>' },
      },
    ],
    services: {
      ranking: ['driver_stats:trips_today', 'driver_stats:rating', 'driver_profile:vehicle'],
      ranking_v1: ['driver_stats:trips_today', 'driver_profile@1:vehicle'],
    },
  });
}

/** Rows: driver 1 fresh; driver 2 stale for driver_stats (3h old, ttl 2h) with a null rating; driver 3 absent. */
export function servingRows(snapshot: RegistrySnapshot): OnlineWrite[] {
  const out: OnlineWrite[] = [];
  const row = (view: string, version: number | undefined, key: Record<string, unknown>, eventMs: number, values: unknown[]) => {
    const v = lookupView(snapshot, view, version);
    const enc = new RowEncoder(v.features);
    const keyEnc = new EntityKeyEncoder(v.joinKeys);
    out.push({ view: viewStorageId(v.name, v.version), entity: Buffer.from(keyEnc.encodeRecord(key)), row: Buffer.from(enc.encode(eventMs, null, values)) });
  };
  const stats = lookupView(snapshot, 'driver_stats');
  row('driver_stats', undefined, { driver_id: 1 }, NOW - 60_000, stats.features.length === 3 ? [12, 4.5, 'Lisbon'] : [12, 4.5]);
  row('driver_stats', undefined, { driver_id: 2 }, NOW - 3 * HOUR, stats.features.length === 3 ? [7, null, 'Porto'] : [7, null]);
  row('driver_profile', undefined, { driver_id: 1 }, NOW - HOUR, ['van', 7, ['a', 'b']]);
  row('driver_profile', 1, { driver_id: 1 }, NOW - 5 * HOUR, ['old-van']);
  row('customer_stats', undefined, { customer_id: 'c1' }, NOW - 1000, [3]);
  row('device_stats', undefined, { device_id: DEVICE }, NOW - 1000, [80, null]);
  return out;
}
