/**
 * Push ingestion: schema checks (a bad batch writes nothing and names row and field), online
 * newer-wins, and the offline push log read back by the real DuckDB offline reader.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { EmbeddedOnlineStore } from '../../src/online/embedded/embedded-store.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { decodeRow } from '../../src/online/row-codec.ts';
import { pushRows } from '../../src/materialize/push.ts';
import { DuckDBPushLog } from '../../src/offline/duckdb-push-log.ts';
import { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import { pushLogDir } from '../../src/offline/ports.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { tempDir, writeTable } from '../offline/support/data.ts';
import { keyList } from '../support/key-list.ts';

const tmp = tempDir('pitstop-push-');
const snapshot = buildSnapshot({
  views: [
    {
      name: 'rider_stats',
      entities: { rider: { rider_id: 'int64' } },
      source: { path: 'data/riders.parquet', timestampField: 'ts' },
      features: { trips: 'int64', rating: 'float32', city: 'string', last_seen: 'timestamp', tags: 'list<string>', blob: 'bytes' },
    },
    { name: 'cold', entities: { rider: { rider_id: 'int64' } }, source: { path: 'data/riders.parquet' }, online: false, features: { trips: 'int64' } },
  ],
});
const view = snapshot.featureViews.rider_stats.versions[0];
let online: EmbeddedOnlineStore;
let pushLog: DuckDBPushLog;
const offlineDir = path.join(tmp.dir, 'offline');

async function read(id: number) {
  const rows = await online.readRows({ views: ['rider_stats@1'], entityKeys: [keyList([encodeEntityKey(view.joinKeys, [id])])] });
  return rows[0][0] ? decodeRow(rows[0][0], view.features.length) : null;
}

beforeAll(async () => {
  online = await EmbeddedOnlineStore.create({ dir: path.join(tmp.dir, 'online') });
  pushLog = await DuckDBPushLog.create(offlineDir);
  await writeTable(path.join(tmp.dir, 'data/riders.parquet'),
    [['rider_id', 'BIGINT'], ['ts', 'TIMESTAMPTZ'], ['trips', 'BIGINT'], ['rating', 'FLOAT'], ['city', 'VARCHAR'], ['last_seen', 'TIMESTAMPTZ'], ['tags', 'VARCHAR[]'], ['blob', 'BLOB']],
    [[1, '2024-01-01 00:00:00+00', 1, 4, 'ams', null, null, null]]);
});
afterAll(async () => {
  await online?.close();
  await pushLog?.close();
  tmp.cleanup();
});

describe('pushRows', () => {
  it('writes valid rows online; an older push never overwrites a newer one', async () => {
    const res = await pushRows(snapshot, 'rider_stats', [
      { rider_id: 1001, event_timestamp: '2024-01-02T00:00:00Z', trips: 5, rating: 4.5, city: 'ams', tags: ['a'], blob: Buffer.from([1]) },
      { rider_id: '1002', event_timestamp: Date.parse('2024-01-02T00:00:00Z'), created_timestamp: '2024-01-02T00:00:01Z', trips: 7n },
    ], { online });
    expect(res).toMatchObject({ view: 'rider_stats@1', rows: 2, written: 2, stale: 0 });
    expect((await read(1001))!.values).toEqual([5n, 4.5, 'ams', null, ['a'], Buffer.from([1])]);
    expect((await read(1002))!.createdMs).toBe(Date.parse('2024-01-02T00:00:01Z'));
    const older = await pushRows(snapshot, 'rider_stats@1', [{ rider_id: 1001, ts: '2024-01-01T00:00:00Z', trips: 1 }], { online });
    expect(older).toMatchObject({ written: 0, stale: 1 });
    expect((await read(1001))!.values[0]).toBe(5n);
  });

  it('rejects a bad batch as a whole, naming every bad row and field', async () => {
    const err = await pushRows(snapshot, 'rider_stats', [
      { rider_id: 2001, event_timestamp: '2024-01-02T00:00:00Z', trips: 1 }, // fine, but must not be written
      { event_timestamp: '2024-01-02T00:00:00Z', trips: 1 },
      { rider_id: 2003, trips: 1 },
      { rider_id: 2004, event_timestamp: '2024-01-02T00:00:00Z', trips: 'many' },
      { rider_id: 2005, event_timestamp: '2024-01-02T00:00:00Z', trps: 1 },
      { rider_id: 2006, event_timestamp: 'not a time' },
      { rider_id: 2007, event_timestamp: '2024-01-02T00:00:00Z', tags: ['x', 3] },
      'not an object',
    ], { online }).catch((e) => e);
    expect(err).toMatchObject({ reason: 'PUSH_ROWS_INVALID' });
    const where = err.problems.map((p: { path: string }) => p.path);
    expect(where).toEqual(['rows[1].rider_id', 'rows[2].event_timestamp', 'rows[3].trips', 'rows[4].trps', 'rows[5].event_timestamp', 'rows[6].tags', 'rows[7]']);
    expect(err.describe()).toMatch(/rows\[3\]\.trips: trips: expected int64, got string "many"/);
    expect(err.describe()).toMatch(/rows\[6\]\.tags: tags\[1\]: expected string/);
    expect(await read(2001)).toBeNull();
  });

  it('with base64Bytes (rows from JSON), bytes come as base64 text, strictly; without it text is no bytes', async () => {
    const row = (id: number, blob: unknown) => ({ rider_id: id, event_timestamp: '2024-01-02T00:00:00Z', blob });
    await pushRows(snapshot, 'rider_stats', [row(3001, 'AQL/'), row(3002, 'AQ')], { online, base64Bytes: true });
    expect((await read(3001))!.values[5]).toEqual(Buffer.from([1, 2, 255]));
    expect((await read(3002))!.values[5]).toEqual(Buffer.from([1]));
    const err = await pushRows(snapshot, 'rider_stats', [row(3003, 'AQ=='), row(3004, 'AQ?='), row(3005, 7)], { online, base64Bytes: true }).catch((e) => e);
    expect(err).toMatchObject({ reason: 'PUSH_ROWS_INVALID' });
    expect(err.problems.map((p: { path: string }) => p.path)).toEqual(['rows[1].blob', 'rows[2].blob']);
    expect(err.describe()).toContain('rows[1].blob: bytes are given as base64 text; "AQ?=" is not base64');
    expect(await read(3003)).toBeNull();
    const plain = await pushRows(snapshot, 'rider_stats', [row(3006, 'AQ==')], { online }).catch((e) => e);
    expect(plain.problems.map((p: { path: string }) => p.path)).toEqual(['rows[0].blob']);
  });

  it('unknown and offline-only views are refused', async () => {
    await expect(pushRows(snapshot, 'nope', [], { online })).rejects.toMatchObject({ reason: 'UNKNOWN_FEATURE_VIEW' });
    await expect(pushRows(snapshot, 'cold', [], { online })).rejects.toMatchObject({ reason: 'VIEW_NOT_ONLINE' });
  });

  it('appends to the offline push log, which the offline reader then sees', async () => {
    const res = await pushRows(snapshot, 'rider_stats', [
      { rider_id: 1, event_timestamp: '2024-01-03T00:00:00Z', trips: 42, rating: 1.25, city: 'x', last_seen: '2024-01-02T12:00:00.123Z', tags: ['p', 'q'], blob: Buffer.from('hi') },
    ], { online, toOffline: true, pushLog });
    expect(path.dirname(res.offlineFile!)).toBe(pushLogDir(offlineDir, 'rider_stats', 1));
    expect(readdirSync(path.dirname(res.offlineFile!)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const offline = await DuckDBOfflineStore.create({ repoDir: tmp.dir, offlineDataDir: offlineDir, threads: 1 });
    try {
      const rows: Record<string, unknown>[] = [];
      for await (const b of offline.readLatest(view, { startMs: 0, endMs: Date.parse('2025-01-01') })) rows.push(...b.toArray().map((r) => r.toJSON()));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ rider_id: 1n, __event_ts_ms: BigInt(Date.parse('2024-01-03T00:00:00Z')), trips: 42n, rating: 1.25, city: 'x', last_seen: Date.parse('2024-01-02T12:00:00.123Z') });
      expect(Buffer.from(rows[0].blob as Uint8Array).toString()).toBe('hi');
    } finally {
      await offline.close();
    }
  });
});
