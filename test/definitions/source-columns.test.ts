import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatProblem, type PitstopError } from '../../src/core/errors.ts';
import { category } from '../../src/definitions/source-columns.ts';
import { validateDefinitions } from '../../src/definitions/validate.ts';
import { DuckDbSourceProbe } from '../../src/registry/duckdb-source-probe.ts';
import { tempDir, writeRepo } from '../cli/helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let probe: DuckDbSourceProbe;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  probe = await DuckDbSourceProbe.create(dir);
  await mkdir(path.join(dir, 'data'), { recursive: true });
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`COPY (SELECT '7' AS rider_id, '2026-01-01' AS ts, 1.5::DOUBLE AS score, 3::INTEGER AS n, [1.0, 2.0]::FLOAT[] AS emb, 'x' AS label)
               TO '${path.join(dir, 'data/t.parquet')}' (FORMAT parquet)`);
  await c.run(`COPY (SELECT 7 AS rider_id, now() AS ts, 'a,b' AS tag) TO '${path.join(dir, 'data/t.csv')}' (HEADER)`);
  c.closeSync();
  db.closeSync();
});
afterAll(async () => {
  await probe.close();
  await cleanup();
});

describe('source column types', () => {
  it('classifies DuckDB types', () => {
    expect(['BIGINT', 'UINTEGER', 'DOUBLE', 'DECIMAL(18,3)', 'BOOLEAN', 'VARCHAR', 'BLOB', 'TIMESTAMP WITH TIME ZONE', 'DATE', 'FLOAT[]', 'FLOAT[16]', 'STRUCT(a INTEGER)'].map(category)).toEqual([
      'integer', 'integer', 'float', 'float', 'bool', 'string', 'bytes', 'timestamp', 'timestamp', 'list:float', 'list:float', 'other',
    ]);
  });

  it('reports join keys, features and timestamp fields whose column type does not fit', async () => {
    await writeRepo(dir, {
      'd.yaml': `entities:
  - name: rider
    join_keys: [{ name: rider_id, type: int64 }]
sources:
  - { name: t, path: data/t.parquet, timestamp_field: ts }
  - { name: c, path: data/t.csv, timestamp_field: ts }
feature_views:
  - name: v
    entities: [rider]
    source: t
    features:
      - { name: score, type: int64 }
      - { name: n, type: float64 }
      - { name: emb, type: "list<float32>" }
      - { name: label, type: bytes }
      - { name: fixed, type: int64, expr: "score::BIGINT" }
  - name: w
    entities: [rider]
    source: c
    features:
      - { name: tag, type: string }
`,
    });
    const err = (await validateDefinitions(dir, { probe }).catch((e) => e)) as PitstopError;
    expect(err.reason).toBe('DEFINITION_INVALID');
    expect(err.problems.map(formatProblem)).toEqual([
      'definitions/d.yaml:5 sources[0].timestamp_field: column "ts" is VARCHAR, not a timestamp or date',
      'definitions/d.yaml:9 feature_views[0].entities[0]: join key "rider_id" is int64 but VARCHAR in source "t"; joins would silently find nothing',
      'definitions/d.yaml:12 feature_views[0].features[0].type: column "score" is DOUBLE in source "t", which does not fit int64; change the type or add an expr with a cast',
      'definitions/d.yaml:15 feature_views[0].features[3].type: column "label" is VARCHAR in source "t", which does not fit bytes; change the type or add an expr with a cast',
    ]);
  });
});
