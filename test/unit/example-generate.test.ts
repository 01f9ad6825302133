import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateExampleData } from '../../src/example/generate.ts';
import { EXAMPLE_TABLES } from '../../src/example/tables.ts';
import { tempDir } from '../cli/helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let db: DuckDBInstance;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('pitstop-example-'));
  db = await DuckDBInstance.create(':memory:');
});
afterAll(async () => {
  db.closeSync();
  await cleanup();
});

/** An order-sensitive digest of every table: row count plus a hash over all rows in file order. */
async function digest(out: string): Promise<Record<string, string>> {
  const c = await db.connect();
  const result: Record<string, string> = {};
  for (const t of EXAMPLE_TABLES) {
    const r = await c.runAndReadAll(
      `SELECT count(*)::VARCHAR || ':' || bit_xor(hash(rn, t::VARCHAR))::VARCHAR AS d FROM (SELECT row_number() OVER () AS rn, t FROM read_parquet($1::VARCHAR) t)`,
      [path.join(out, t.dir, '*.parquet')],
    );
    result[t.dir] = String(r.getRowObjects()[0].d);
  }
  c.closeSync();
  return result;
}

describe('example data generator', () => {
  it('is deterministic across runs and thread counts, and the seed changes it', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const c = path.join(dir, 'c');
    // Enough rows for several DuckDB row groups, so threads really split the work.
    const tables = await generateExampleData({ outDir: a, rows: 130_000, seed: 7, threads: 1 });
    expect(tables.map((t) => [t.table, t.rows])).toEqual([
      ['rider_stats', 130_000],
      ['driver_stats', 65_000],
      ['driver_embeddings', 5_200],
      ['rider_driver', 65_000],
      ['zone_demand', 13_000],
    ]);
    await generateExampleData({ outDir: b, rows: 130_000, seed: 7, threads: 4 });
    await generateExampleData({ outDir: c, rows: 130_000, seed: 8, threads: 4 });
    const [da, db2, dc] = [await digest(a), await digest(b), await digest(c)];
    expect(db2).toEqual(da);
    for (const t of Object.keys(da)) expect(dc[t]).not.toBe(da[t]);
  }, 30_000);

  it('writes the columns and types the example definitions use', async () => {
    const out = path.join(dir, 'a');
    const c = await db.connect();
    const describe = async (t: string) =>
      Object.fromEntries(
        (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet($1::VARCHAR)`, [path.join(out, t, '*.parquet')]))
          .getRowObjects()
          .map((r) => [String(r.column_name), String(r.column_type)]),
      );
    expect(await describe('driver_embeddings')).toEqual({ driver_id: 'BIGINT', event_ts: 'TIMESTAMP WITH TIME ZONE', embedding: 'FLOAT[]' });
    expect(await describe('zone_demand')).toMatchObject({ zone_id: 'VARCHAR', open_requests: 'INTEGER', surge_multiplier: 'DOUBLE' });
    const dims = await c.runAndReadAll(`SELECT min(len(embedding)) AS lo, max(len(embedding)) AS hi FROM read_parquet($1::VARCHAR)`, [path.join(out, 'driver_embeddings/*.parquet')]);
    expect(dims.getRowObjectsJson()[0]).toEqual({ lo: '16', hi: '16' });
    const nulls = await c.runAndReadAll(`SELECT count(*) FILTER (WHERE avg_rating_given IS NULL) AS n FROM read_parquet($1::VARCHAR)`, [path.join(out, 'rider_stats/*.parquet')]);
    expect(Number(nulls.getRowObjects()[0].n)).toBeGreaterThan(0); // missing values exist on purpose
    c.closeSync();
  });
});
