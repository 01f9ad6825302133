/**
 * The offline commands end to end on a copy of the example repository: apply, historical to
 * Parquet and CSV, explain (SQL + which data each view reads), materialize-offline (idempotent,
 * then read by historical with the same answers), and bad input (exit 1, no output file).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { generateExampleData } from '../../src/example/generate.ts';
import { copyExampleRepo, runCli } from '../cli/helpers.ts';
import { readTable, tempDir } from './support/data.ts';
import { DuckDBSession } from '../../src/offline/duckdb-session.ts';
import { sql } from '../../src/offline/sql.ts';

const tmp = tempDir('pitstop-offline-cli-');
const repo = tmp.dir;
const cli = (...argv: string[]) => runCli([...argv, '--repo', repo]);
const entities = path.join(repo, 'entities.parquet');

beforeAll(async () => {
  await copyExampleRepo(repo);
  await generateExampleData({ outDir: path.join(repo, 'data'), rows: 2000 });
  expect((await cli('apply')).code).toBe(0);
  // Entity rows: riders and drivers from the data, 30 minutes after their rows, plus a label.
  const s = await DuckDBSession.create({ threads: 1 });
  await s.exec(sql`COPY (SELECT r.rider AS rider_id, d.driver_id, r.event_ts + INTERVAL 30 MINUTE AS event_timestamp, r.trips_7d % 2 = 0 AS label
    FROM (SELECT * FROM read_parquet(${path.join(repo, 'data/rider_stats/*.parquet')}) ORDER BY event_ts, rider LIMIT 100) r
    POSITIONAL JOIN (SELECT driver_id FROM read_parquet(${path.join(repo, 'data/driver_stats/*.parquet')}) ORDER BY event_ts, driver_id LIMIT 100) d) TO ${entities} (FORMAT parquet)`);
  s.close();
}, 30_000);
afterAll(() => tmp.cleanup());

describe('offline CLI on the example repository', () => {
  it('historical writes Parquet and CSV with the entity rows in order', async () => {
    const out = path.join(repo, 'out', 'train.parquet');
    const r = await cli('historical', '--entities', entities, '--feature-service', 'match_ranker', '--full-feature-names', '--out', out);
    expect(r.stderr).toContain('rider_stats@1: source');
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining('Wrote 100 rows') });
    const rows = await readTable(out);
    const input = await readTable(entities);
    expect(rows.map((x) => [x.rider_id, x.driver_id, x.label])).toEqual(input.map((x) => [x.rider_id, x.driver_id, x.label]));
    expect(Object.keys(rows[0])).toContain('rider_stats__trips_7d');
    expect(rows.filter((x) => x.rider_stats__trips_7d !== null).length).toBeGreaterThan(50);
    const csv = path.join(repo, 'out', 'train.csv');
    expect((await cli('historical', '--entities', entities, '--features', 'rider_stats:trips_7d,driver_stats:rating', '--out', csv)).code).toBe(0);
    const num = (v: unknown) => (v === null ? null : Number(v));
    expect((await readTable(csv)).map((x) => num(x.trips_7d))).toEqual(rows.map((x) => num(x.rider_stats__trips_7d)));
  }, 30_000);

  it('materialize-offline is idempotent and historical then reads it, with the same answers', async () => {
    const before = await readTable(path.join(repo, 'out', 'train.parquet'));
    const m1 = await cli('materialize-offline', 'rider_stats', 'driver_stats');
    expect(m1).toMatchObject({ code: 0, stdout: expect.stringContaining('rider_stats@1: 2,000 rows') });
    const m2 = await cli('materialize-offline', 'rider_stats@1', 'rider_stats', 'driver_stats', 'driver_embedding', 'rider_driver_affinity');
    expect(m2.code).toBe(0);
    const again = await cli('materialize-offline', 'rider_stats@1');
    expect(again.stdout).toMatch(/rider_stats@1: 2,000 rows/);
    const files = readdirSync(path.join(repo, '.pitstop/offline/views/rider_stats/v1')).filter((d) => d.startsWith('date='));
    expect(files.length).toBeGreaterThan(0);
    expect((await readTable(path.join(repo, '.pitstop/offline/views/rider_stats/v1/date=*/*.parquet'))).length).toBe(2000);

    const ranged = await cli('materialize-offline', 'zone_demand', '--start', '2026-01-03', '--end', '2026-01-04T12:00:00+00:00');
    expect(ranged).toMatchObject({ code: 0, stdout: expect.stringContaining('materialized [2026-01-03T00:00:00.000Z, 2026-01-04T12:00:00.000Z)') });
    const explain = await cli('explain', 'historical', '--entities', entities, '--feature-service', 'match_ranker', '--full-feature-names');
    expect(explain.code).toBe(0);
    expect(explain.stdout).toMatch(/rider_stats@1: reads offline materialization/);
    expect(explain.stdout).toContain('ASOF LEFT JOIN');
    const out = path.join(repo, 'out', 'train-mat.parquet');
    const r = await cli('historical', '--entities', entities, '--feature-service', 'match_ranker', '--full-feature-names', '--out', out);
    expect(r.stderr).toContain('rider_stats@1: offline materialization');
    expect(await readTable(out)).toEqual(before);
  }, 30_000);

  it('bad input: exit 1, the column or feature named, no output file', async () => {
    const out = path.join(repo, 'bad', 'x.parquet');
    const noKey = await cli('historical', '--entities', entities, '--features', 'zone_demand:surge_multiplier', '--out', out);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('ENTITY_TABLE_INVALID');
    expect(noKey.stderr).toContain('no join key column "zone_id"');
    const unknown = await cli('historical', '--entities', entities, '--features', 'rider_stats:nope', '--out', out);
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('UNKNOWN_FEATURE') });
    const q = `SELECT driver_id, event_timestamp, 1.5 AS rating FROM read_parquet('${entities.replaceAll("'", "''")}')`;
    const collision = await cli('historical', '--entities-sql', q, '--features', 'driver_stats:rating', '--out', out);
    expect(collision).toMatchObject({ code: 1, stderr: expect.stringContaining('FEATURE_NAME_COLLISION') });
    expect(collision.stderr).toContain('"rating"');
    expect((await cli('historical', '--entities-sql', q, '--features', 'driver_stats:rating', '--full-feature-names', '--out', path.join(repo, 'out', 'sql.csv'))).code).toBe(0);
    const missing = await cli('historical', '--entities', path.join(repo, 'nope.csv'), '--features', 'rider_stats:trips_7d', '--out', out);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('nope.csv') });
    const usage = await cli('historical', '--entities', entities, '--out', out);
    expect(usage.code).toBe(2);
    expect(existsSync(path.dirname(out)) ? readdirSync(path.dirname(out)) : []).toEqual([]);
    expect((await cli('materialize-offline', '--start', 'yesterday')).code).toBe(2);
    expect((await cli('materialize-offline', '--start', '2026-01-02', '--end', '2026-01-01')).code).toBe(2);
    expect((await cli('materialize-offline', 'nope')).code).toBe(1);
    const badOut = await cli('historical', '--entities', entities, '--features', 'rider_stats:trips_7d', '--out', path.join(repo, 'bad', 'x.json'));
    expect(badOut).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown format ".json"') });
  }, 30_000);
});
