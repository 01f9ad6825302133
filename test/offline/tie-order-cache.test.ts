/**
 * The packed tie order is measured once per session for the same source files; a source file
 * rewritten in place (different spans and units) must be measured again, or the stale packing
 * would merge distinct event times and pick the wrong row.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import path from 'node:path';
import type { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { tempDir, writeTable } from './support/data.ts';
import { openStore, plain, retrieveRows } from './support/retrieve.ts';

const tmp = tempDir();
let store: DuckDBOfflineStore;
beforeAll(async () => { store = await openStore(tmp.dir); });
afterAll(async () => { await store?.close(); tmp.cleanup(); });

const cols: [string, string][] = [['driver_id', 'BIGINT'], ['ts', 'TIMESTAMPTZ'], ['created', 'TIMESTAMPTZ'], ['v', 'BIGINT']];
const snap = buildSnapshot({
  views: [{ name: 'd', entities: { driver: { driver_id: 'int64' } }, ttlMs: 0, source: { path: 'd.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { v: 'int64' } }],
});
const entity = { columns: [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMPTZ']] as [string, string][], rows: [[1, '2024-01-01T00:00:00.900Z']] };

it('re-measures a rewritten source file instead of reusing its old tie order', async () => {
  const file = path.join(tmp.dir, 'd.parquet');
  // Whole-second event times: the packing divides event times by 1 s.
  await writeTable(file, cols, [[1, '2023-12-31T23:59:59Z', '2024-01-01T00:00:00Z', 10], [1, '2023-12-31T23:59:58Z', '2023-12-31T23:59:58Z', 11]]);
  const first = await retrieveRows(store, snap, entity, { features: ['d:v'] });
  expect(plain(first, ['v'])).toEqual([[10]]);
  // Same path, now µs event times within one second: with the old 1 s unit both rows would pack
  // into the same second and the one created later (the earlier event) would win.
  await writeTable(file, cols, [[1, '2024-01-01T00:00:00.200Z', '2024-01-01T00:10:00Z', 20], [1, '2024-01-01T00:00:00.500Z', '2024-01-01T00:00:00.500Z', 21], [1, '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z', 22]]);
  const second = await retrieveRows(store, snap, entity, { features: ['d:v'] });
  expect(plain(second, ['v'])).toEqual([[21]]);
});
