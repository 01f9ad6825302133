import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import { pushLogDir } from '../../src/offline/ports.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { ms, tempDir, writeTable } from './support/data.ts';

const tmp = tempDir();
let store: DuckDBOfflineStore;

const snapshot = buildSnapshot({
  views: [
    {
      name: 'driver_stats',
      entities: { driver: { driver_id: 'int64' } },
      source: { path: 'data/drivers.parquet', timestampField: 'ts', createdTimestampField: 'created', fieldMapping: { drv: 'driver_id' } },
      features: { trips: 'int64', rating: 'float32', label: 'string', double_trips: { type: 'int64', expr: 'trips * 2' }, seen: 'timestamp', tags: 'list<string>' },
    },
  ],
});
const view = snapshot.featureViews.driver_stats.versions[0];

beforeAll(async () => {
  await writeTable(path.join(tmp.dir, 'data/drivers.parquet'),
    [['drv', 'BIGINT'], ['ts', 'TIMESTAMP'], ['created', 'TIMESTAMPTZ'], ['trips', 'BIGINT'], ['rating', 'DOUBLE'], ['label', 'VARCHAR'], ['seen', 'TIMESTAMP'], ['tags', 'VARCHAR[]']],
    [
      [1, '2024-01-01 00:00:00', '2024-01-01 00:00:00+00', 1, 4.5, 'a', '2024-01-01 00:00:00.000123', null],
      [1, '2024-01-02 00:00:00', '2024-01-02 00:00:00+00', 2, 4.6, 'b', null, null],
      [1, '2024-01-02 00:00:00', '2024-01-03 00:00:00+00', 3, 4.7, 'c', null, null], // same event time, created later: wins
      [1, '2024-01-05 00:00:00', '2024-01-05 00:00:00+00', 9, 4.9, 'late', null, null], // outside the range
      [2, '2024-01-01 12:00:00', null, 7, null, null, null, null],
      [3, '2023-12-31 23:59:59', null, 5, 1, 'before', null, null], // before the range
    ]);
  // A pushed row for driver 2, newer than its source row.
  const push = pushLogDir(path.join(tmp.dir, 'offline'), 'driver_stats', 1);
  await writeTable(path.join(push, 'b1.parquet'),
    [['driver_id', 'BIGINT'], ['event_ts', 'TIMESTAMPTZ'], ['created_ts', 'TIMESTAMPTZ'], ['trips', 'BIGINT'], ['rating', 'FLOAT'], ['label', 'VARCHAR'], ['double_trips', 'BIGINT'], ['seen', 'TIMESTAMPTZ'], ['tags', 'VARCHAR[]']],
    [[2, '2024-01-03 00:00:00+00', '2024-01-03 00:00:01+00', 8, 3.5, 'pushed', 16, null, '[x, y]']]);
  store = await DuckDBOfflineStore.create({ repoDir: tmp.dir, offlineDataDir: path.join(tmp.dir, 'offline'), threads: 1 });
});

afterAll(async () => {
  await store?.close();
  tmp.cleanup();
});

async function collect(it: AsyncIterable<RecordBatch>): Promise<{ batches: number; rows: Record<string, unknown>[] }> {
  const rows: Record<string, unknown>[] = [];
  let batches = 0;
  for await (const b of it) {
    batches++;
    for (const r of b) rows.push(r!.toJSON());
  }
  return { batches, rows };
}

describe('OfflineReader.readLatest on DuckDB', () => {
  it('returns the latest row per entity key in [start, end), ties by larger created time, push log included', async () => {
    const { rows } = await collect(store.readLatest(view, { startMs: ms('2024-01-01T00:00:00Z'), endMs: ms('2024-01-05T00:00:00Z') }));
    rows.sort((a, b) => Number(a.driver_id) - Number(b.driver_id));
    expect(rows.map((r) => [r.driver_id, r.__event_ts_ms, r.__created_ts_ms, r.trips, r.double_trips, r.label])).toEqual([
      [1n, BigInt(ms('2024-01-02T00:00:00Z')), BigInt(ms('2024-01-03T00:00:00Z')), 3n, 6n, 'c'],
      [2n, BigInt(ms('2024-01-03T00:00:00Z')), BigInt(ms('2024-01-03T00:00:01Z')), 8n, 16n, 'pushed'],
    ]);
    expect(rows[1].rating).toBeCloseTo(3.5);
    expect([...(rows[1].tags as Iterable<string>)]).toEqual(['x', 'y']);
  });

  it('types columns as the port says and keeps timestamp precision', async () => {
    const batches: RecordBatch[] = [];
    for await (const b of store.readLatest(view, { startMs: ms('2024-01-01T00:00:00Z'), endMs: ms('2024-01-01T01:00:00Z') })) batches.push(b);
    const b = batches[0];
    expect(b.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'driver_id:Int64', '__event_ts_ms:Int64', '__created_ts_ms:Int64', 'trips:Int64', 'rating:Float32', 'label:Utf8',
      'double_trips:Int64', 'seen:Timestamp<MICROSECOND, UTC>', 'tags:List<Utf8>',
    ]);
    expect(b.numRows).toBe(1);
    // µs precision survives: the raw value is epoch µs.
    expect(b.getChild('seen')!.data[0].values[0]).toBe(BigInt(ms('2024-01-01T00:00:00Z')) * 1000n + 123n);
    expect(b.getChild('__created_ts_ms')!.get(0)).toBe(BigInt(ms('2024-01-01T00:00:00Z')));
  });

  it('yields several batches when asked for small ones, and nothing for an empty range', async () => {
    const { batches, rows } = await collect(store.readLatest(view, { startMs: 0, endMs: ms('2030-01-01T00:00:00Z') }, { batchRows: 1 }));
    expect(rows.length).toBe(3);
    expect(batches).toBeGreaterThanOrEqual(2);
    const empty = await collect(store.readLatest(view, { startMs: ms('2030-01-01T00:00:00Z'), endMs: ms('2031-01-01T00:00:00Z') }));
    expect(empty.rows).toEqual([]);
  });

  it('reads the offline materialization (plus the push log) when it covers the range, with the same rows', async () => {
    const range = { startMs: ms('2024-01-01T00:00:00Z'), endMs: ms('2024-01-05T00:00:00Z') };
    const before = (await collect(store.readLatest(view, range))).rows;
    await store.materializeOffline(view);
    expect((await store.readLatestSql(view, range)).origin).toMatch(/^offline materialization .* \+ push log \(1 files\)$/);
    const after = (await collect(store.readLatest(view, range))).rows;
    const key = (r: Record<string, unknown>) => Number(r.driver_id);
    expect(after.sort((a, b) => key(a) - key(b)).map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))))
      .toEqual(before.sort((a, b) => key(a) - key(b)).map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))));
    expect(after.length).toBe(2);
  });

  it('converts bytes keys, int32, bool, float64 and list<float32> to their Arrow types', async () => {
    await writeTable(path.join(tmp.dir, 'data/misc.parquet'), [['id', 'BLOB'], ['ts', 'TIMESTAMP'], ['n', 'INTEGER'], ['ok', 'BOOLEAN'], ['x', 'DOUBLE'], ['emb', 'FLOAT[]']],
      [['\\x01\\xFF', '2024-01-01 00:00:00', 7, true, 1.25, '[0.5, -1.0]'], ['ab', '2024-01-01 00:00:00', null, null, null, null]]);
    const snap = buildSnapshot({ views: [{ name: 'misc', entities: { thing: { id: 'bytes' } }, source: { path: 'data/misc.parquet', timestampField: 'ts' }, features: { n: 'int32', ok: 'bool', x: 'float64', emb: 'list<float32>' } }] });
    const batches: RecordBatch[] = [];
    for await (const b of store.readLatest(snap.featureViews.misc.versions[0], { startMs: 0, endMs: ms('2030-01-01T00:00:00Z') })) batches.push(b);
    const b = batches[0];
    expect(b.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['id:Binary', '__event_ts_ms:Int64', '__created_ts_ms:Int64', 'n:Int32', 'ok:Bool', 'x:Float64', 'emb:List<Float32>']);
    const rows = b.toArray().map((r) => r.toJSON()).sort((p, q) => (p.id as Uint8Array).length - (q.id as Uint8Array).length);
    expect([...(rows[0].id as Uint8Array)]).toEqual([0x61, 0x62]);
    expect([rows[0].n, rows[0].ok, rows[0].x, rows[0].emb, rows[0].__created_ts_ms]).toEqual([null, null, null, null, null]);
    expect([...(rows[1].id as Uint8Array)]).toEqual([1, 255]);
    expect([rows[1].n, rows[1].ok, rows[1].x, [...(rows[1].emb as Iterable<number>)]]).toEqual([7, true, 1.25, [0.5, -1]]);
  });

  it('estimateRows (the RowEstimator port method) counts exactly the rows readLatest yields, without ranking', async () => {
    const ranges = [
      { startMs: ms('2024-01-01T00:00:00Z'), endMs: ms('2024-01-05T00:00:00Z') }, // drivers 1 and 2 (2 via the push log too)
      { startMs: ms('2024-01-01T00:00:00Z'), endMs: ms('2024-01-01T01:00:00Z') }, // driver 1 only
      { startMs: 0, endMs: ms('2030-01-01T00:00:00Z') }, // everyone
      { startMs: ms('2030-01-01T00:00:00Z'), endMs: ms('2031-01-01T00:00:00Z') }, // no one
    ];
    const counts: number[] = [];
    for (const range of ranges) {
      const n = await store.estimateRows(view, range);
      expect(n).toBe((await collect(store.readLatest(view, range))).rows.length);
      counts.push(n);
    }
    expect(counts).toEqual([2, 1, 3, 0]);
    const text = (await store.estimateRowsSql(view, ranges[0])).inline();
    expect(text).toContain('SELECT DISTINCT "driver_id"');
    expect(text).not.toContain('row_number()');
  });

  it('names the file of an unreadable source', async () => {
    const broken = structuredClone(view);
    (broken as { source: { path: string } }).source.path = 'data/missing.parquet';
    await expect(collect(store.readLatest(broken, { startMs: 0, endMs: 1 }))).rejects.toMatchObject({ reason: 'SOURCE_UNREADABLE', message: expect.stringContaining('missing.parquet') });
  });
});
