/**
 * The packed tie order: guessed from Parquet footers and a sample, checked on every row at run
 * time (a row the guess does not fit makes the job measure the orders and run again); remembered
 * once per session for the same source files, and measured again when a file is rewritten in
 * place, or a stale packing would merge distinct event times and pick the wrong row.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import path from 'node:path';
import type { DuckDBOfflineStore } from '../../src/offline/duckdb-offline-store.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { readTable, tempDir, writeBulk, writeTable } from './support/data.ts';
import { TIE_GUESS_FAILED } from '../../src/offline/pit-query.ts';
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

it('a guess the sample did not contradict but a later row does: measured and run again, right rows', async () => {
  const file = path.join(tmp.dir, 'g.parquet');
  const t0 = Date.parse('2024-01-01T00:00:00Z');
  const iso = (msv: number, us = 0) => `${new Date(msv).toISOString().slice(0, -1)}${String(us).padStart(3, '0')}Z`;
  // 70,000 rows at whole milliseconds (the sample reads the first 65,536), then, last, two rows
  // of driver 7 one µs apart: the later event was created first, the earlier one 5 minutes after
  // it. Packed as if at whole milliseconds, the earlier event's larger created rank outweighs the
  // µs between them and it (v = 1) would win.
  const rows: (string | number)[][] = [];
  for (let i = 0; i < 70_000; i++) rows.push([i % 1000 + 100, iso(t0 + i * 1000), iso(t0 + i * 1000 + 5), i]);
  rows.push([7, iso(t0), iso(t0 + 300_000), 1], [7, iso(t0, 1), iso(t0), 2]);
  await writeBulk(file, cols, rows);
  const gsnap = buildSnapshot({
    views: [{ name: 'g', entities: { driver: { driver_id: 'int64' } }, ttlMs: 0, source: { path: 'g.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { v: 'int64' } }],
  });
  const entities = { sql: "SELECT 7::BIGINT AS driver_id, TIMESTAMPTZ '2024-01-01 00:00:01+00' AS event_timestamp UNION ALL SELECT 100, TIMESTAMPTZ '2024-01-01 00:00:00.5+00'" };
  const job = await store.historical(gsnap, { entities, features: ['g:v'] });
  expect(job.explain()).toContain(TIE_GUESS_FAILED); // guessed: every row checked
  const got = (await job.toTable()).toArray().map((r) => Number(r.toJSON().v));
  expect(got).toEqual([2, 0]);
  expect(job.explain()).not.toContain(TIE_GUESS_FAILED); // measured after the guess failed
  await job.close();
  // The same through a file (COPY): a fresh store guesses again, fails, measures, writes once.
  const fresh = await openStore(tmp.dir);
  try {
    const out = path.join(tmp.dir, 'g-out.parquet');
    const job2 = await fresh.historical(gsnap, { entities, features: ['g:v'] });
    expect(job2.explain()).toContain(TIE_GUESS_FAILED);
    expect(await job2.writeFile(out)).toBe(2);
    await job2.close();
    expect((await readTable(out)).map((r) => Number(r.v))).toEqual([2, 0]);
  } finally {
    await fresh.close();
  }
  // The measured order is remembered: the next retrieval neither guesses nor measures.
  const again = await store.historical(gsnap, { entities, features: ['g:v'] });
  expect(again.explain()).not.toContain(TIE_GUESS_FAILED);
  expect((await again.toTable()).toArray().map((r) => Number(r.toJSON().v))).toEqual([2, 0]);
  await again.close();
});

it('a guess that holds is proven by the run and reused without the row checks', async () => {
  const file = path.join(tmp.dir, 'h.parquet');
  await writeTable(file, cols, [[1, '2024-01-01T00:00:00Z', '2024-01-01T00:00:02Z', 1], [1, '2024-01-01T00:00:00Z', '2024-01-01T00:00:01Z', 2]]);
  const hsnap = buildSnapshot({
    views: [{ name: 'h', entities: { driver: { driver_id: 'int64' } }, ttlMs: 0, source: { path: 'h.parquet', timestampField: 'ts', createdTimestampField: 'created' }, features: { v: 'int64' } }],
  });
  const one = await store.historical(hsnap, { entities: { sql: "SELECT 1::BIGINT AS driver_id, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS event_timestamp" }, features: ['h:v'] });
  expect(one.explain()).toContain(TIE_GUESS_FAILED);
  expect((await one.toTable()).toArray().map((r) => Number(r.toJSON().v))).toEqual([1]);
  await one.close();
  const two = await store.historical(hsnap, { entities: { sql: "SELECT 1::BIGINT AS driver_id, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS event_timestamp" }, features: ['h:v'] });
  expect(two.explain()).not.toContain(TIE_GUESS_FAILED);
  expect((await two.toTable()).toArray().map((r) => Number(r.toJSON().v))).toEqual([1]);
  await two.close();
});

it('the guess holds over rows without an event time, with a NULL rank only when the footers count NULL created times', async () => {
  const nsnap = (file: string) => buildSnapshot({
    views: [{ name: 'n', entities: { driver: { driver_id: 'int64' } }, ttlMs: 0, source: { path: file, timestampField: 'ts', createdTimestampField: 'created' }, features: { v: 'int64' } }],
  });
  const entities = { sql: "SELECT 1::BIGINT AS driver_id, TIMESTAMPTZ '2024-01-01 00:00:01+00' AS event_timestamp UNION ALL SELECT 2, TIMESTAMPTZ '2024-01-01 00:00:01+00'" };
  for (const [file, nullCreated] of [['n1.parquet', false], ['n2.parquet', true]] as const) {
    await writeTable(path.join(tmp.dir, file), cols, [
      [1, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 1],
      [1, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00.000003Z', 2],
      [1, null, '2024-01-01T00:00:02Z', 3], // no event time: never taken, and no misfit
      [2, '2024-01-01T00:00:00Z', nullCreated ? null : '2024-01-01T00:00:00Z', 4],
    ]);
    const job = await store.historical(nsnap(file), { entities, features: ['n:v'] });
    expect(job.explain()).toContain(TIE_GUESS_FAILED); // guessed: every row checked
    expect(job.explain().includes('coalesce('), file).toBe(nullCreated);
    const got = (await job.toTable()).toArray().map((r) => Number(r.toJSON().v));
    expect(got).toEqual([2, 4]);
    expect(job.explain()).toContain(TIE_GUESS_FAILED); // the guess held: no second run
    await job.close();
  }
});
