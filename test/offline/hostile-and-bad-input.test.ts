/**
 * Hostile names go through the whole path quoted (never executed), and bad input fails with a
 * PitstopError naming the column, feature or file, leaving no partial output file behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import type { RegistrySnapshot } from '../../src/core/registry-model.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { readTable, tempDir, writeTable } from './support/data.ts';
import { openStore } from './support/retrieve.ts';

const tmp = tempDir();
let store: DuckDBOfflineStore;
const EVIL = `x"; DROP TABLE __ps_entities; -- '`;
const evilDir = path.join(tmp.dir, `we'ird; "dir" --x`);
let snap: RegistrySnapshot;
let entityFile: string;

beforeAll(async () => {
  store = await openStore(tmp.dir);
  // Source columns with quotes, semicolons and comment markers, renamed by field_mapping.
  await writeTable(path.join(evilDir, 'src.parquet'), [[`dr"iver; --id`, 'BIGINT'], [`t's`, 'TIMESTAMP'], [`tr'ips -- x`, 'BIGINT']],
    [[1, '2024-01-01 00:00:00', 10], [2, '2024-01-01 00:00:00', 20]]);
  snap = buildSnapshot({
    views: [{
      name: 'drivers',
      entities: { driver: { driver_id: 'int64' } },
      source: { path: path.relative(tmp.dir, path.join(evilDir, 'src.parquet')), timestampField: `t's`, fieldMapping: { [`dr"iver; --id`]: 'driver_id', [`tr'ips -- x`]: 'trips' } },
      features: { trips: 'int64', double_trips: { type: 'int64', expr: 'trips * 2' } },
    }],
    services: { svc: ['drivers:trips'] },
  });
  // Entity file in the hostile directory, with a hostile label column.
  entityFile = await writeTable(path.join(evilDir, `ent'ities.parquet`), [['driver_id', 'BIGINT'], ['event_timestamp', 'TIMESTAMP'], [EVIL, 'VARCHAR']],
    [[2, '2024-01-02', `'); DROP TABLE x; --`], [1, '2024-01-02', 'ok']]);
});

afterAll(async () => {
  await store?.close();
  tmp.cleanup();
});

describe('hostile names', () => {
  it('are quoted end to end: field_mapping source columns, file paths, entity label columns, output path', async () => {
    const out = path.join(evilDir, `out'; --.parquet`);
    const n = await store.historicalToFile(snap, { entities: { file: entityFile }, features: ['drivers:trips', 'drivers:double_trips'] }, out);
    expect(n).toBe(2);
    const rows = await readTable(out);
    expect(rows.map((r) => [r.driver_id, r[EVIL], r.trips, r.double_trips])).toEqual([[2n, `'); DROP TABLE x; --`, 20n, 40n], [1n, 'ok', 10n, 20n]]);
    expect(Object.keys(rows[0])).toEqual(['driver_id', 'event_timestamp', EVIL, 'trips', 'double_trips']);
  });

  it('refuses an entity query of several statements; runs a single SELECT', async () => {
    const q = `SELECT * FROM read_parquet('${entityFile.replaceAll("'", "''")}')`;
    await expect(store.historicalTable(snap, { entities: { sql: `${q}; DROP TABLE foo` }, features: ['drivers:trips'] })).rejects.toMatchObject({ reason: 'ENTITY_TABLE_INVALID', message: expect.stringContaining('single SELECT') });
    await expect(store.historicalTable(snap, { entities: { sql: `CREATE TABLE t AS ${q}` }, features: ['drivers:trips'] })).rejects.toMatchObject({ reason: 'ENTITY_TABLE_INVALID' });
    const t = await store.historicalTable(snap, { entities: { sql: `${q} -- trailing comment` }, features: ['drivers:trips'] });
    expect(t.getChild('trips')!.toArray()).toEqual(new BigInt64Array([20n, 10n]));
  });
});

describe('bad input', () => {
  const out = () => path.join(tmp.dir, 'bad-out', 'out.parquet');
  const noOutput = () => !existsSync(path.dirname(out())) || readdirSync(path.dirname(out())).length === 0;

  async function entities(name: string, cols: [string, string][], rows: (string | number | null)[][]): Promise<string> {
    return writeTable(path.join(tmp.dir, 'bad', name), cols, rows);
  }

  it('an entity file without a join key or event_timestamp column names the column', async () => {
    const f1 = await entities('nokey.parquet', [['driver', 'BIGINT'], ['event_timestamp', 'TIMESTAMP']], [[1, '2024-01-01']]);
    await expect(store.historicalToFile(snap, { entities: { file: f1 }, features: ['drivers:trips'] }, out())).rejects.toMatchObject({ reason: 'ENTITY_TABLE_INVALID', message: expect.stringContaining('no join key column "driver_id"') });
    const f2 = await entities('nots.csv', [['driver_id', 'BIGINT'], ['ts', 'TIMESTAMP']], [[1, '2024-01-01']]);
    await expect(store.historicalToFile(snap, { entities: { file: f2 }, features: ['drivers:trips'] }, out())).rejects.toMatchObject({ reason: 'ENTITY_TABLE_INVALID', message: expect.stringContaining('no "event_timestamp" column') });
    expect(noOutput()).toBe(true);
  });

  it('wrong key types and unparseable timestamps name the column', async () => {
    const f = await entities('strkey.parquet', [['driver_id', 'VARCHAR'], ['event_timestamp', 'TIMESTAMP']], [['abc', '2024-01-01']]);
    await expect(store.historicalToFile(snap, { entities: { file: f }, features: ['drivers:trips'] }, out())).rejects.toMatchObject({ reason: 'ENTITY_TABLE_INVALID', message: expect.stringMatching(/"driver_id" has type VARCHAR, expected int64/) });
    const g = await entities('badts.parquet', [['driver_id', 'BIGINT'], ['event_timestamp', 'VARCHAR']], [[1, 'yesterday-ish']]);
    await expect(store.historicalToFile(snap, { entities: { file: g }, features: ['drivers:trips'] }, out())).rejects.toMatchObject({ reason: 'ENTITY_TABLE_INVALID', message: expect.stringContaining('event_timestamp') });
    const h = await entities('boolts.parquet', [['driver_id', 'BIGINT'], ['event_timestamp', 'BOOLEAN']], [[1, 'true']]);
    await expect(store.historicalToFile(snap, { entities: { file: h }, features: ['drivers:trips'] }, out())).rejects.toMatchObject({ reason: 'ENTITY_TABLE_INVALID', message: expect.stringContaining('"event_timestamp" has type BOOLEAN') });
    expect(noOutput()).toBe(true);
  });

  it('unknown feature, view or service', async () => {
    await expect(store.historicalToFile(snap, { entities: { file: entityFile }, features: ['drivers:nope'] }, out())).rejects.toMatchObject({ reason: 'UNKNOWN_FEATURE', message: expect.stringContaining('"nope"') });
    await expect(store.historicalToFile(snap, { entities: { file: entityFile }, features: ['nope:trips'] }, out())).rejects.toMatchObject({ reason: 'UNKNOWN_FEATURE_VIEW' });
    await expect(store.historicalToFile(snap, { entities: { file: entityFile }, featureService: 'nope' }, out())).rejects.toMatchObject({ reason: 'UNKNOWN_FEATURE_SERVICE' });
    expect(noOutput()).toBe(true);
  });

  it('a missing entity file or source names the file', async () => {
    await expect(store.historicalToFile(snap, { entities: { file: path.join(tmp.dir, 'missing.parquet') }, features: ['drivers:trips'] }, out())).rejects.toMatchObject({ reason: 'SOURCE_UNREADABLE', message: expect.stringContaining('missing.parquet') });
    const broken = structuredClone(snap) as RegistrySnapshot;
    (broken.featureViews.drivers.versions[0] as { source: { path: string } }).source.path = 'data/gone.parquet';
    await expect(store.historicalToFile(broken, { entities: { file: entityFile }, features: ['drivers:trips'] }, out())).rejects.toMatchObject({ reason: 'SOURCE_UNREADABLE', message: expect.stringContaining('gone.parquet') });
    expect(noOutput()).toBe(true);
  });

  it('a source that is not Parquet names the file; a failing query leaves no partial output', async () => {
    writeFileSync(path.join(tmp.dir, 'garbage.parquet'), 'this is not parquet');
    const broken = structuredClone(snap) as RegistrySnapshot;
    (broken.featureViews.drivers.versions[0] as { source: { path: string } }).source.path = 'garbage.parquet';
    await expect(store.historicalToFile(broken, { entities: { file: entityFile }, features: ['drivers:trips'] }, out())).rejects.toMatchObject({ reason: 'SOURCE_UNREADABLE', message: expect.stringContaining('garbage.parquet') });
    // An expression that fails at run time (cast error mid-query): no file, no temp file.
    const failing = structuredClone(snap) as RegistrySnapshot;
    (failing.featureViews.drivers.versions[0].features[1] as { expr?: string }).expr = `CAST(CASE WHEN trips > 15 THEN 'x' || trips ELSE '1' END AS BIGINT)`;
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.dirname(out()), { recursive: true });
    await expect(store.historicalToFile(failing, { entities: { file: entityFile }, features: ['drivers:double_trips'] }, out())).rejects.toMatchObject({ reason: 'OFFLINE_QUERY_FAILED' });
    expect(readdirSync(path.dirname(out()))).toEqual([]);
  });
});
