/**
 * The point-in-time reference cases of feature-store-facts.md, plus the edges Feast does not
 * test: exact ttl boundary, entity rows before all data, composite keys, duplicates and order,
 * NULL created timestamps, offsets, several ttls in one request, pinned versions, collisions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import type { RegistrySnapshot } from '../../src/core/registry-model.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { ms, tempDir, writeTable } from './support/data.ts';
import { openStore, plain, retrieveRows } from './support/retrieve.ts';

const tmp = tempDir();
let store: DuckDBOfflineStore;
const H = 3_600_000;
const D = 24 * H;

const TS = (iso: string) => iso; // entity timestamps written as TIMESTAMP text (naive = UTC)

beforeAll(async () => {
  store = await openStore(tmp.dir);
  const at = (f: string) => path.join(tmp.dir, 'data', f);
  // Case 1: driver 101, hourly rows on 2021-09-17.
  await writeTable(at('case1.parquet'), [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP'], ['trips_today', 'BIGINT']],
    [[101, '2021-09-17 00:00:00', 0], [101, '2021-09-17 01:00:00', 1], [101, '2021-09-17 02:00:00', 3], [101, '2021-09-17 03:00:00', 4], [101, '2021-09-17 04:00:00', 6], [101, '2021-09-17 05:00:00', 8]]);
  // Case 2: customers, ttl 10 days, created timestamps.
  await writeTable(at('case2.parquet'), [['customer_id', 'BIGINT'], ['event_ts', 'TIMESTAMP'], ['created', 'TIMESTAMP'], ['value', 'BIGINT']],
    [[1, '2023-12-31', '2023-12-31', 11], [1, '2024-01-02', '2024-01-02', 22], [1, '2024-01-03', '2024-01-03', 33], [2, '2023-01-03', '2023-01-03', 22], [3, '2024-01-01', '2024-01-03', 10], [3, '2024-01-01', '2024-01-02', 20]]);
  // Case 3: no ttl; same event time → later created wins; later event beats later created.
  await writeTable(at('case3.parquet'), [['driver_id', 'BIGINT'], ['value', 'BIGINT'], ['event_ts', 'TIMESTAMP'], ['created', 'TIMESTAMP']],
    [[1001, 10, '2024-06-01', '2024-06-01'], [1001, 20, '2024-06-01', '2024-06-02'], [1002, 30, '2024-06-01', '2024-06-02'], [1002, 40, '2024-06-02', '2024-06-01']]);
});

afterAll(async () => {
  await store?.close();
  tmp.cleanup();
});

const driverEntity = { driver: { driver_id: 'int64' as const } };

describe('reference cases (feature-store-facts.md)', () => {
  it('case 1: ttl 2h, hourly rows', async () => {
    const snap = buildSnapshot({ views: [{ name: 'driver_hourly', entities: driverEntity, ttlMs: 2 * H, source: { path: 'data/case1.parquet', timestampField: 'event_timestamp' }, features: { trips_today: 'int64' } }] });
    const rows = await retrieveRows(store, snap, {
      columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']],
      rows: [[101, TS('2021-09-16 23:00:00')], [101, '2021-09-17 01:15:30'], [101, '2021-09-17 04:32:45'], [101, '2021-09-17 05:43:10'], [101, '2021-09-17 16:26:17']],
    }, { features: ['driver_hourly:trips_today'] });
    expect(plain(rows, ['driver_id', 'trips_today'])).toEqual([[101, null], [101, 1], [101, 6], [101, 8], [101, null]]);
  });

  it('case 2: ttl 10 days, ties broken by created timestamp', async () => {
    const snap = buildSnapshot({ views: [{ name: 'customer_stats', entities: { customer: { customer_id: 'int64' } }, ttlMs: 10 * D, source: { path: 'data/case2.parquet', createdTimestampField: 'created' }, features: { value: 'int64' } }] });
    const rows = await retrieveRows(store, snap, {
      columns: [['customer_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']],
      rows: [[1, '2024-01-01'], [1, '2024-01-02'], [2, '2024-01-01'], [3, '2024-01-03']],
    }, { features: ['customer_stats:value'] });
    expect(plain(rows, ['customer_id', 'value'])).toEqual([[1, 11], [1, 22], [2, null], [3, 10]]);
  });

  it('case 3: no ttl; later created wins a tie, later event beats later created', async () => {
    const snap = buildSnapshot({ views: [{ name: 'driver_values', entities: driverEntity, source: { path: 'data/case3.parquet', createdTimestampField: 'created' }, features: { value: 'int64' } }] });
    const rows = await retrieveRows(store, snap, {
      columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']],
      rows: [[1001, '2024-06-03'], [1002, '2024-06-03']],
    }, { features: ['driver_values:value'] });
    expect(plain(rows, ['driver_id', 'value'])).toEqual([[1001, 20], [1002, 40]]);
  });
});

describe('edges', () => {
  let snap: RegistrySnapshot;
  beforeAll(async () => {
    const at = (f: string) => path.join(tmp.dir, 'data', f);
    // Composite key (city, zone), µs-precision times, a NULL created timestamp.
    await writeTable(at('zones.parquet'), [['city', 'VARCHAR'], ['zone', 'INTEGER'], ['ts', 'TIMESTAMP'], ['created', 'TIMESTAMP'], ['demand', 'DOUBLE']], [
      ['ams', 1, '2024-01-01 10:00:00', '2024-01-01 10:00:00', 1.0],
      ['ams', 2, '2024-01-01 10:00:00', '2024-01-01 10:00:00', 2.0],
      ['ber', 1, '2024-01-01 10:00:00', null, 3.0],
      ['ber', 1, '2024-01-01 10:00:00', '2024-01-01 09:00:00', 4.0], // same event time: non-NULL created beats NULL
      ['ams', 1, '2024-01-01 11:00:00', null, 5.0],
    ]);
    // Source with offsets in text: 12:00+02:00 is 10:00 UTC.
    await writeTable(at('offsets.csv'), [['driver_id', 'BIGINT'], ['ts', 'VARCHAR'], ['rating', 'DOUBLE']], [
      [7, '2024-01-01T12:00:00+02:00', 4.0],
      [7, '2024-01-01T10:30:00', 5.0], // naive = UTC
    ]);
    snap = buildSnapshot({
      views: [
        { name: 'zone_demand', entities: { zone: { city: 'string', zone: 'int32' } }, ttlMs: 1 * H, source: { path: 'data/zones.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { demand: 'float64' } },
        { name: 'driver_hourly', entities: driverEntity, ttlMs: 2 * H, source: { path: 'data/case1.parquet', timestampField: 'event_timestamp' }, features: { trips_today: 'int64' } },
        { name: 'driver_all_time', entities: driverEntity, source: { path: 'data/case1.parquet', timestampField: 'event_timestamp' }, features: { trips_today: 'int64' } },
        { name: 'driver_rating', entities: driverEntity, source: { path: 'data/offsets.csv', timestampField: 'ts' }, features: { rating: 'float64' } },
      ],
    });
  });

  it('includes the exact ttl boundary and a row at exactly t, excludes one µs beyond and any future row', async () => {
    const rows = await retrieveRows(store, snap, {
      columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']],
      rows: [
        [101, '2021-09-17 07:00:00'], // newest row 05:00 is exactly ttl old → 8
        [101, '2021-09-17 07:00:00.000001'], // one µs beyond the ttl → NULL
        [101, '2021-09-17 03:00:00'], // a row at exactly t → 4
        [101, '2021-09-17 02:59:59.999999'], // just before: the 03:00 row is in the future → 3
      ],
    }, { features: ['driver_hourly:trips_today'] });
    expect(plain(rows, ['trips_today'])).toEqual([[8], [null], [4], [3]]);
  });

  it('returns NULL for entity rows earlier than all data and for unknown keys', async () => {
    const rows = await retrieveRows(store, snap, {
      columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']],
      rows: [[101, '2000-01-01'], [999, '2021-09-17 05:00:00'], [null, '2021-09-17 05:00:00']],
    }, { features: ['driver_all_time:trips_today'] });
    expect(plain(rows, ['driver_id', 'trips_today'])).toEqual([[101, null], [999, null], [null, null]]);
  });

  it('joins on composite keys; NULL created is oldest in a tie', async () => {
    const rows = await retrieveRows(store, snap, {
      columns: [['zone', 'INTEGER'], ['city', 'VARCHAR'], ['event_timestamp', 'TIMESTAMP'], ['label', 'DOUBLE']],
      rows: [[1, 'ams', '2024-01-01 10:30:00', 0.5], [2, 'ams', '2024-01-01 10:30:00', 0.25], [1, 'ber', '2024-01-01 10:30:00', 1], [2, 'ber', '2024-01-01 10:30:00', 0], [1, 'ams', '2024-01-01 11:59:59', 7]],
    }, { features: ['zone_demand:demand'] });
    expect(plain(rows, ['city', 'zone', 'label', 'demand'])).toEqual([['ams', 1, 0.5, 1.0], ['ams', 2, 0.25, 2.0], ['ber', 1, 1, 4.0], ['ber', 2, 0, null], ['ams', 1, 7, 5.0]]);
  });

  it('keeps entity order and duplicates; label columns pass through untouched', async () => {
    const times = ['2021-09-17 05:00:00', '2021-09-17 00:30:00', '2021-09-17 05:00:00', '2021-09-17 02:00:00', '2021-09-17 00:30:00'];
    const rows = await retrieveRows(store, snap, {
      columns: [['event_timestamp', 'TIMESTAMP'], ['label', 'VARCHAR'], ['driver_id', 'BIGINT']],
      rows: times.map((t, i) => [t, `row-${i}`, 101]),
    }, { features: ['driver_all_time:trips_today'] });
    expect(Object.keys(rows[0])).toEqual(['event_timestamp', 'label', 'driver_id', 'trips_today']);
    expect(plain(rows, ['label', 'trips_today'])).toEqual([['row-0', 8], ['row-1', 0], ['row-2', 8], ['row-3', 3], ['row-4', 0]]);
    expect(rows[0].event_timestamp).toBe(ms('2021-09-17T05:00:00Z'));
  });

  it('normalizes offsets to UTC (naive means UTC) in sources and entity rows', async () => {
    const rows = await retrieveRows(store, snap, {
      columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'VARCHAR']],
      rows: [[7, '2024-01-01T10:15:00Z'], [7, '2024-01-01T09:59:59+00:00'], [7, '2024-01-01T12:31:00+02:00'], [7, '2024-01-01 10:00:00']],
    }, { features: ['driver_rating:rating'] });
    expect(plain(rows, ['rating'])).toEqual([[4.0], [null], [5.0], [4.0]]);
  });

  it('reads entity rows from CSV (offsets honoured) and streams Arrow batches in entity order', async () => {
    const { writeFileSync } = await import('node:fs');
    const csv = path.join(tmp.dir, 'entities.csv');
    writeFileSync(csv, 'driver_id,event_timestamp,note\n7,2024-01-01T12:15:00+02:00,a\n101,2021-09-17T03:30:00Z,b\n7,2024-01-01T10:45:00+00:00,c\n');
    const batches = [];
    for await (const b of store.historicalBatches(snap, { entities: { file: csv }, features: ['driver_rating:rating', 'driver_all_time:trips_today'] }, { batchRows: 1 })) batches.push(b);
    expect(batches.length).toBe(3);
    const rows = batches.flatMap((b) => b.toArray().map((r) => r.toJSON()));
    expect(rows.map((r) => [r.note, r.rating, r.trips_today === null ? null : Number(r.trips_today)])).toEqual([['a', 4.0, null], ['b', null, 4], ['c', 5.0, null]]);
  });

  it('serves several views with different ttls in one request (full names)', async () => {
    const rows = await retrieveRows(store, snap, {
      columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']],
      rows: [[101, '2021-09-17 16:26:17'], [101, '2021-09-17 04:32:45']],
    }, { features: ['driver_hourly:trips_today', 'driver_all_time:trips_today'], fullFeatureNames: true });
    expect(plain(rows, ['driver_hourly__trips_today', 'driver_all_time__trips_today'])).toEqual([[null, 8], [6, 6]]);
  });

  it('refuses a name collision without full feature names', async () => {
    await expect(retrieveRows(store, snap, { columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']], rows: [[1, '2024-01-01']] },
      { features: ['driver_hourly:trips_today', 'driver_all_time:trips_today'] })).rejects.toMatchObject({ reason: 'FEATURE_NAME_COLLISION' });
    await expect(retrieveRows(store, snap, { columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP'], ['trips_today', 'INTEGER']], rows: [[1, '2024-01-01', 3]] },
      { features: ['driver_hourly:trips_today'] })).rejects.toMatchObject({ reason: 'FEATURE_NAME_COLLISION', message: expect.stringContaining('"trips_today"') });
  });
});

describe('tie-break orders', () => {
  it('the row with the top created rank wins at exactly its event time (packed order edge)', async () => {
    const at = (f: string) => path.join(tmp.dir, 'data', f);
    // created − event ∈ {0, 1, 2} µs: ranks 1..3 (0 is NULL); driver 3's event time at 1 µs makes
    // the event unit 1 µs, so the multiplier is exactly 4 and the entity side's top (+3) is the top rank.
    await writeTable(at('ranks.parquet'), [['driver_id', 'BIGINT'], ['ts', 'TIMESTAMP'], ['created', 'TIMESTAMP'], ['v', 'BIGINT']], [
      [3, '2024-01-01 00:00:00.000001', null, 9],
      [1, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1],
      [1, '2024-01-01 00:00:00', '2024-01-01 00:00:00.000002', 3],
      [1, '2024-01-01 00:00:00', '2024-01-01 00:00:00.000001', 2],
      [1, '2024-01-01 00:00:00', null, 0],
      [2, '2024-01-01 00:00:00', null, 5],
      [2, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 6],
    ]);
    const snap = buildSnapshot({ views: [{ name: 'ranks', entities: driverEntity, source: { path: 'data/ranks.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { v: 'int64' } }] });
    const job = await store.historical(snap, { entities: { sql: "SELECT * FROM (VALUES (1, TIMESTAMP '2024-01-01 00:00:00'), (2, TIMESTAMP '2024-01-01 00:00:00'), (1, TIMESTAMP '2023-12-31 23:59:59')) t(driver_id, event_timestamp)" }, features: ['ranks:v'], tieOrder: 'measure' });
    expect(job.explain()).toContain('* CAST(4::BIGINT AS BIGINT) + CAST(3::BIGINT AS BIGINT)'); // packed, multiplier 4
    const rows = (await job.toTable()).toArray().map((r) => r.toJSON().v);
    await job.close();
    expect(rows).toEqual([3n, 6n, null]);
  });
});

describe('packed order near the top of BIGINT', () => {
  it('adds the created rank last, so a row near the top of the packed range does not overflow', async () => {
    // Event times at 1 µs, created − event spanning W µs with no NULL: multiplier W + 2, and the
    // last row's event time D µs later puts its packed value within 6e9 of 2^63 − 1, where
    // ((event − minEvent) · k + created) would overflow before created − event was subtracted.
    const at = (f: string) => path.join(tmp.dir, 'data', f);
    await writeTable(at('top.parquet'), [['driver_id', 'BIGINT'], ['ts', 'TIMESTAMP'], ['created', 'TIMESTAMP'], ['v', 'BIGINT']], [
      [1, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1],
      [1, '2024-01-01 00:00:00', '2024-01-01 00:50:36.999998', 2],
      [1, '2024-01-01 00:50:37.000998', '2024-01-01 00:50:37.001003', 3],
    ]);
    const snap = buildSnapshot({ views: [{ name: 'top', entities: driverEntity, source: { path: 'data/top.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { v: 'int64' } }] });
    for (const tieOrder of ['auto', 'measure'] as const) {
      const rows = await retrieveRows(store, snap, {
        columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']],
        rows: [[1, '2024-01-01 00:00:00'], [1, '2024-01-01 00:50:37.000998'], [1, '2024-01-01 00:50:37.000997'], [1, '2025-01-01']],
      }, { features: ['top:v'], tieOrder });
      expect(plain(rows, ['v']), tieOrder).toEqual([[2], [3], [2], [3]]);
    }
  });
});

describe('entity rows without a time', () => {
  it('an entity row with a NULL event_timestamp gets no feature values, in every tie order and both plans', async () => {
    const snap = buildSnapshot({ views: [
      { name: 'by_created', entities: driverEntity, source: { path: 'data/case3.parquet', createdTimestampField: 'created' }, features: { value: 'int64' } },
      { name: 'by_event', entities: driverEntity, source: { path: 'data/case1.parquet', timestampField: 'event_timestamp' }, features: { trips_today: 'int64' } },
    ] });
    for (const tieOrder of ['auto', 'measure', 'struct'] as const) {
      for (const filterByCreatedTimestamp of [false, true]) {
        // 100 more rows of an unknown key: DuckDB's ASOF join takes its sort-based path (above 64
        // entity rows), the one that matched a NULL entity time; a few rows take a nested loop.
        for (const filler of [0, 100]) {
          const rows = await retrieveRows(store, snap, {
            columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']],
            rows: [[1001, null], [101, null], [1001, '2024-07-01'], [101, '2021-09-18'], ...Array.from({ length: filler }, () => [5, '2024-01-01'])],
          }, { features: ['by_created:value', 'by_event:trips_today'], tieOrder, filterByCreatedTimestamp });
          expect(plain(rows.slice(0, 4), ['value', 'trips_today']), `${tieOrder}, filter ${filterByCreatedTimestamp}, ${filler} more rows`).toEqual([[null, null], [null, null], [20, null], [null, 8]]);
        }
      }
    }
  });
});

describe('feature rows without an event time', () => {
  it('are never taken, in every tie order and both plans (the ASOF plan reads them unfiltered)', async () => {
    const at = (f: string) => path.join(tmp.dir, 'data', f);
    await writeTable(at('nullev.parquet'), [['driver_id', 'BIGINT'], ['ts', 'TIMESTAMP'], ['created', 'TIMESTAMP'], ['v', 'BIGINT']], [
      [1, null, '2024-01-01 12:00:00', 99],
      [1, '2024-01-01 10:00:00', '2024-01-01 10:00:00.5', 1],
      [1, null, null, 98],
      [2, null, '2024-01-01 09:00:00', 97],
    ]);
    const snap = buildSnapshot({ views: [
      { name: 'with_created', entities: driverEntity, source: { path: 'data/nullev.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { v: 'int64' } },
      { name: 'event_only', entities: driverEntity, ttlMs: D, source: { path: 'data/nullev.parquet', timestampField: 'ts' }, features: { v: 'int64' } },
    ] });
    for (const tieOrder of ['auto', 'measure', 'struct'] as const) {
      for (const filterByCreatedTimestamp of [false, true]) {
        for (const filler of [0, 100]) { // 100 more rows: DuckDB's sort-based ASOF path (above 64 entity rows)
          const rows = await retrieveRows(store, snap, {
            columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']],
            rows: [[1, '2024-01-01 11:00:00'], [2, '2024-01-01 11:00:00'], [1, '2024-01-01 09:00:00'], [1, '2030-01-01'], ...Array.from({ length: filler }, () => [5, '2024-01-01'])],
          }, { features: ['with_created:v', 'event_only:v'], fullFeatureNames: true, tieOrder, filterByCreatedTimestamp });
          expect(plain(rows.slice(0, 4), ['with_created__v', 'event_only__v']), `${tieOrder}, filter ${filterByCreatedTimestamp}, ${filler} more rows`).toEqual([[1, 1], [null, null], [null, null], [1, null]]);
        }
      }
    }
  });
});

describe('filter_by_created_timestamp', () => {
  it('skips rows created after the entity time; a NULL created timestamp is eligible', async () => {
    const at = (f: string) => path.join(tmp.dir, 'data', f);
    await writeTable(at('late.parquet'), [['driver_id', 'BIGINT'], ['ts', 'TIMESTAMP'], ['created', 'TIMESTAMP'], ['v', 'BIGINT']], [
      [1, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1],
      [1, '2024-01-01 01:00:00', '2024-01-01 05:00:00', 2], // backfilled late
      [2, '2024-01-01 00:00:00', null, 3],
      [3, '2024-01-01 00:00:00', '2024-01-01 00:30:00', 4],
      [3, '2024-01-01 00:00:00', '2024-01-01 03:00:00', 5], // a correction, created later
    ]);
    const snap = buildSnapshot({ views: [{ name: 'late', entities: driverEntity, ttlMs: 3 * H, source: { path: 'data/late.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { v: 'int64' } }] });
    const entity = {
      columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']] as [string, string][],
      rows: [[1, '2024-01-01 02:00:00'], [1, '2024-01-01 04:00:00'], [2, '2024-01-01 01:00:00'], [3, '2024-01-01 01:00:00'], [3, '2024-01-01 03:00:00'], [3, '2024-01-01 00:10:00']],
    };
    const filtered = await retrieveRows(store, snap, entity, { features: ['late:v'], filterByCreatedTimestamp: true });
    // (1, 04:00): the 01:00 row is exactly ttl old but was created only at 05:00; 00:00 is beyond the ttl.
    expect(plain(filtered, ['v'])).toEqual([[1], [null], [3], [4], [5], [null]]);
    const unfiltered = await retrieveRows(store, snap, entity, { features: ['late:v'] });
    expect(plain(unfiltered, ['v'])).toEqual([[2], [2], [3], [5], [5], [5]]);
  });
});

describe('pinned versions', () => {
  it('view@1:f reads version 1 with its own source and expression', async () => {
    const at = (f: string) => path.join(tmp.dir, 'data', f);
    await writeTable(at('rider_v1.parquet'), [['rider', 'BIGINT'], ['ts', 'TIMESTAMP'], ['trips', 'BIGINT']], [[5, '2024-01-01', 10]]);
    await writeTable(at('rider_v2.parquet'), [['rider_id', 'BIGINT'], ['ts', 'TIMESTAMP'], ['n', 'BIGINT']], [[5, '2024-01-01', 100]]);
    const base = buildSnapshot({
      views: [{ name: 'rider_stats', entities: { rider: { rider_id: 'int64' } }, source: { path: 'data/rider_v2.parquet', timestampField: 'ts' }, features: { trips: { type: 'int64', expr: 'n + 1' } }, olderVersions: [{ trips: { type: 'int64', expr: 'trips * 2' } }] }],
    });
    // Version 1 was built from an older source (a different file, with a field mapping).
    const snap = structuredClone(base) as RegistrySnapshot;
    const v1 = snap.featureViews.rider_stats.versions[0] as { source: object };
    v1.source = { ...v1.source, path: 'data/rider_v1.parquet', fieldMapping: { rider: 'rider_id' } };
    const entity = { columns: [['rider_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']] as [string, string][], rows: [[5, '2024-01-02']] };
    const pinned = await retrieveRows(store, snap, entity, { features: ['rider_stats@1:trips'], fullFeatureNames: true });
    expect(pinned.map((r) => r.rider_stats__trips)).toEqual([20n]);
    const latest = await retrieveRows(store, snap, entity, { features: ['rider_stats:trips'] });
    expect(latest.map((r) => r.trips)).toEqual([101n]);
    expect(Object.keys(latest[0])).toEqual(['rider_id', 'event_timestamp', 'trips']);
    // Two versions of one view share the output name, even with full names: a collision.
    await expect(retrieveRows(store, snap, entity, { features: ['rider_stats@1:trips', 'rider_stats@2:trips'], fullFeatureNames: true }))
      .rejects.toMatchObject({ reason: 'FEATURE_NAME_COLLISION' });
  });
});
