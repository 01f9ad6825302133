import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatProblem, type PitstopError } from '../../src/core/errors.ts';
import { checkExpression } from '../../src/definitions/expressions.ts';
import { validateDefinitions } from '../../src/definitions/validate.ts';
import { DuckDbSourceProbe } from '../../src/registry/duckdb-source-probe.ts';
import { BASE_DEFS, tempDir, writeRepo } from '../cli/helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let probe: DuckDbSourceProbe;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  probe = await DuckDbSourceProbe.create(dir);
});
afterAll(async () => {
  await probe.close();
  await cleanup();
});

describe('feature expression guard (DuckDB parser)', () => {
  it.each([
    ['fare_sum / nullif(trip_count, 0)', ['fare_sum', 'trip_count']],
    ["case when a > 1 then 'x' else b end", ['a', 'b']],
    ['list_transform(emb, x -> x * 2)', ['emb']],
    ['cast(ts as date)', ['ts']],
  ])('accepts %s', async (expr, columns) => {
    expect(await checkExpression(probe, expr)).toEqual({ ok: true, columns });
  });

  it.each([
    ['(select 1)', /subqueries are not allowed/],
    ['x in (select id from t)', /subqueries are not allowed/],
    ['1 from t', /no FROM/],
    ['a, b', /exactly one expression, found 2/],
    ['a as b', /alias/],
    ['*', /\* is not allowed/],
    ['$1', /parameters are not allowed/],
    ['sum(x) over ()', /window functions/],
    ['sum(x)', /aggregate function sum\(\) is not allowed/],
    ['1 + COUNT(*)', /aggregate function/],
    ['1; drop table t', /comments .* and ";" are not allowed/],
    ['a -- b', /comments/],
    ['a /* b */', /comments/],
    // Comment and semicolon tokens are refused even inside string literals: simple beats clever here.
    ["'it''s; -- fine' || name", /comments/],
    ['flaot(', /not a valid DuckDB expression at character \d+: syntax error/],
    ['1 where x', /no FROM, WHERE/],
  ])('rejects %s', async (expr, message) => {
    const check = await checkExpression(probe, expr);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.message).toMatch(message);
  });

  it('checks columns against the source schema when its files exist', async () => {
    await writeRepo(dir, {
      ...BASE_DEFS,
      'views.yaml': `sources:
  - name: trips
    path: data/trips/*.parquet
    timestamp_field: event_ts
    field_mapping: { rid: rider_id, fares: fare_sum, nope: x }
feature_views:
  - name: rider_stats
    entities: [rider]
    source: trips
    features:
      - { name: trips_today, type: int64 }
      - { name: avg_fare, type: float64, expr: "fare_sum / nullif(trip_cnt, 0)" }
      - { name: ghost, type: int64 }
`,
    });
    // Without data files the column checks are skipped, not failed.
    await expect(validateDefinitions(dir, { probe })).resolves.toBeDefined();

    await mkdir(path.join(dir, 'data/trips'), { recursive: true });
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const file = path.join(dir, 'data/trips/part-0.parquet');
    await c.run(`COPY (SELECT 1::BIGINT AS rid, now() AS event_ts, 2::BIGINT AS trips_today, 3.5 AS fares, 1 AS trip_count) TO '${file}' (FORMAT parquet)`);
    c.closeSync();
    db.closeSync();

    const err = (await validateDefinitions(dir, { probe }).catch((e) => e)) as PitstopError;
    expect(err.reason).toBe('DEFINITION_INVALID');
    expect(err.problems.map(formatProblem)).toEqual([
      'definitions/views.yaml:5 sources[0].field_mapping.nope: field_mapping names column "nope" that the source files lack',
      'definitions/views.yaml:12 feature_views[0].features[1].expr: column "trip_cnt" is not in source "trips" (did you mean "trip_count"?)',
      'definitions/views.yaml:13 feature_views[0].features[2].name: column "ghost" is not in source "trips"; add an expr or a field_mapping',
    ]);
  });

  it('passes definition text to DuckDB only as a parameter', async () => {
    // A quote in the expression must not break out of anything: it is a parse error, nothing else.
    const check = await checkExpression(probe, "') AS j; SELECT 1 --");
    expect(check.ok).toBe(false);
    // Spliced into json_serialize_sql('...') this would be valid SQL; as a parameter it is a parse error.
    const check2 = await checkExpression(probe, "x')::VARCHAR) AS tree, ('1");
    expect(!check2.ok && check2.message).toMatch(/not a valid DuckDB expression/);
  });
});
