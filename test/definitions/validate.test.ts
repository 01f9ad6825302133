import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PitstopError, formatProblem } from '../../src/core/errors.ts';
import { validateDefinitions } from '../../src/definitions/validate.ts';
import { BASE_DEFS, tempDir, writeRepo } from '../cli/helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

/** Validates `files` and returns the formatted problems (empty when valid). */
async function problems(files: Record<string, string>): Promise<string[]> {
  await writeRepo(dir, files);
  try {
    await validateDefinitions(dir);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(PitstopError);
    expect((e as PitstopError).reason).toBe('DEFINITION_INVALID');
    return (e as PitstopError).problems.map(formatProblem);
  }
}

describe('definition validation', () => {
  it('accepts the base definitions', async () => {
    expect(await problems(BASE_DEFS)).toEqual([]);
  });

  it('reports an unknown type with file, line and path', async () => {
    const views = BASE_DEFS['views.yaml'].replace('{ name: trips_today, type: int64 }', '{ name: trips_today, type: flaot64 }');
    const out = await problems({ ...BASE_DEFS, 'views.yaml': views });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^definitions\/views\.yaml:12 feature_views\[0\]\.features\[0\]\.type: unknown type "flaot64"/);
  });

  it('reports YAML syntax errors with their line', async () => {
    const out = await problems({ ...BASE_DEFS, 'bad.yaml': 'entities:\n  - name: x\n    join_keys: [\n' });
    expect(out.some((p) => /^definitions\/bad\.yaml:\d+: YAML syntax:/.test(p))).toBe(true);
  });

  it('reports duplicate YAML keys', async () => {
    const out = await problems({ ...BASE_DEFS, 'dup.yaml': 'entities: []\nentities: []\n' });
    expect(out.join('\n')).toMatch(/definitions\/dup\.yaml:2: YAML syntax: .*unique/i);
  });

  it('reports unknown keys, missing fields, bad ttl and bad join key types, all at once', async () => {
    const out = await problems({
      ...BASE_DEFS,
      'more.yaml': `entities:
  - name: driver
    join_keys: [{ name: driver_id, type: float64 }]
    colour: red
feature_views:
  - name: v2
    entities: [rider]
    ttl: 2 hours
    features:
      - { name: f, type: int64 }
`,
    });
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^definitions\/more\.yaml:3 entities\[0\]\.join_keys\[0\]\.type: join key type "float64" is not allowed/),
        'definitions/more.yaml:4 entities[0].colour: unknown key "colour"',
        'definitions/more.yaml:6 feature_views[0].source: is required',
        expect.stringMatching(/^definitions\/more\.yaml:8 feature_views\[0\]\.ttl: bad ttl "2 hours"/),
      ]),
    );
    expect(out).toHaveLength(4);
  });

  it('reports wrongly typed values as such, not as missing', async () => {
    const out = await problems({
      ...BASE_DEFS,
      'views.yaml': BASE_DEFS['views.yaml'].replace('ttl: 2h', 'ttl: 2h\n    online: yes').replace('- { name: trips_today, type: int64 }', '- trips_today'),
    });
    expect(out).toEqual([
      'definitions/views.yaml:10 feature_views[0].online: Invalid input: expected boolean, received string',
      'definitions/views.yaml:13 feature_views[0].features[0]: Invalid input: expected object, received string',
    ]);
  });

  it('rejects hostile names: quotes, semicolons, path traversal', async () => {
    const out = await problems({
      'e.yaml': `entities:
  - name: "rider\\"; DROP TABLE x; --"
    join_keys: [{ name: "id'", type: int64 }]
sources:
  - name: s
    path: ../../etc/passwd
    timestamp_field: ts
  - name: s2
    path: /etc/passwd
    timestamp_field: ts
  - name: "../s3"
    path: data/x.parquet
    timestamp_field: ts
`,
    });
    const text = out.join('\n');
    expect(text).toContain('definitions/e.yaml:2 entities[0].name: invalid name "rider\\"; DROP TABLE x; --"');
    expect(text).toContain(`definitions/e.yaml:3 entities[0].join_keys[0].name: invalid name "id'"`);
    expect(text).toContain('definitions/e.yaml:6 sources[0].path: source path "../../etc/passwd" escapes the feature repository');
    expect(text).toContain('definitions/e.yaml:9 sources[1].path: source path "/etc/passwd" is absolute');
    expect(text).toContain('definitions/e.yaml:11 sources[2].name: invalid name "../s3"');
  });

  it('rejects a path that escapes after normalisation but accepts one that stays inside', async () => {
    const out = await problems({
      'e.yaml': `sources:
  - { name: a, path: "data/../../x.parquet", timestamp_field: ts }
  - { name: b, path: "data/../data/x.parquet", timestamp_field: ts }
`,
    });
    expect(out).toEqual(['definitions/e.yaml:2 sources[0].path: source path "data/../../x.parquet" escapes the feature repository']);
  });

  it('reports unknown entity, source, view and feature references', async () => {
    const out = await problems({
      ...BASE_DEFS,
      'views.yaml': BASE_DEFS['views.yaml'].replace('entities: [rider]', 'entities: [ridr]').replace('source: trips', 'source: tripz'),
      'services.yaml': `feature_services:
  - name: s
    features: [rider_stats:nope, other_view:x, "not a ref"]
`,
    });
    expect(out).toEqual([
      'definitions/services.yaml:3 feature_services[0].features[0]: feature view "rider_stats" has no feature "nope"',
      'definitions/services.yaml:3 feature_services[0].features[1]: unknown feature view "other_view"',
      'definitions/services.yaml:3 feature_services[0].features[2]: bad feature reference "not a ref": expected view:feature or view@N:feature',
      'definitions/views.yaml:7 feature_views[0].entities[0]: unknown entity "ridr" (did you mean "rider"?)',
      'definitions/views.yaml:8 feature_views[0].source: unknown source "tripz" (did you mean "trips"?)',
    ]);
  });

  it('reports duplicate names across files and join key type mismatches', async () => {
    const out = await problems({
      ...BASE_DEFS,
      'z.yaml': `entities:
  - name: rider
    join_keys: [{ name: rider_id, type: int64 }]
  - name: passenger
    join_keys: [{ name: rider_id, type: string }]
feature_views:
  - name: rider_stats
    entities: [rider]
    source: trips
    features: [{ name: x, type: int64 }, { name: x, type: int32 }, { name: rider_id, type: int64 }]
`,
    });
    expect(out).toEqual(
      expect.arrayContaining([
        'definitions/z.yaml:2 entities[0].name: duplicate entity "rider" (also defined at definitions/entities.yaml:2)',
        expect.stringMatching(/^definitions\/z\.yaml:5 entities\[1\]\.join_keys\[0\]\.type: join key "rider_id" is string here but int64 in entity "rider"/),
        'definitions/z.yaml:7 feature_views[0].name: duplicate feature view "rider_stats" (also defined at definitions/views.yaml:6)',
        'definitions/z.yaml:10 feature_views[0].features[1].name: duplicate feature "x" in feature view "rider_stats"',
        'definitions/z.yaml:10 feature_views[0].features[2].name: feature "rider_id" has the name of a join key of this view',
      ]),
    );
  });

  it('does not report references to objects that already failed the schema', async () => {
    const out = await problems({
      ...BASE_DEFS,
      'entities.yaml': 'entities:\n  - name: rider\n    join_keys: []\n',
    });
    expect(out).toEqual(['definitions/entities.yaml:3 entities[0].join_keys: an entity needs at least one join key']);
  });

  it('fails when there is no definitions directory', async () => {
    await writeRepo(dir, {});
    const { rm } = await import('node:fs/promises');
    await rm(`${dir}/definitions`, { recursive: true });
    await expect(validateDefinitions(dir)).rejects.toMatchObject({ reason: 'DEFINITION_INVALID', problems: [{ file: 'definitions' }] });
  });
});
