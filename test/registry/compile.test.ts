import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatProblem, type PitstopError } from '../../src/core/errors.ts';
import type { RegistrySnapshot } from '../../src/core/registry-model.ts';
import { validateDefinitions } from '../../src/definitions/validate.ts';
import { compileRegistry } from '../../src/registry/compile.ts';
import { diffSnapshots, formatPlan } from '../../src/registry/diff.ts';
import { lookupView, resolveService } from '../../src/registry/resolve.ts';
import { snapshotHash } from '../../src/registry/snapshot-hash.ts';
import { BASE_DEFS, tempDir, writeRepo } from '../cli/helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

async function compile(files: Record<string, string>, previous?: RegistrySnapshot): Promise<RegistrySnapshot> {
  await writeRepo(dir, files);
  return compileRegistry(await validateDefinitions(dir), { project: 'testproj', previous, now: new Date(0) });
}

const views = BASE_DEFS['views.yaml'];

describe('registry compiler', () => {
  it('builds a content-hashed first version', async () => {
    const s = await compile(BASE_DEFS);
    expect(s.version).toBe(1);
    expect(s.parentHash).toBeNull();
    expect(s.hash).toBe(snapshotHash(s));
    const v = lookupView(s, 'rider_stats');
    expect(v).toMatchObject({ version: 1, introducedIn: 1, ttlMs: 7_200_000, joinKeys: [{ name: 'rider_id', type: 'int64' }], online: true });
    expect(v.source).toMatchObject({ name: 'trips', path: 'data/trips/*.parquet', format: 'parquet', timestampField: 'event_ts' });
    expect(s.featureServices.eta_model.features).toEqual([
      { view: 'rider_stats', version: 1, feature: 'trips_today', pinned: false },
      { view: 'rider_stats', version: 1, feature: 'avg_fare', pinned: true },
    ]);
  });

  it('is deterministic: the same definitions on the same parent give the same hash', async () => {
    const a = await compile(BASE_DEFS);
    const b = compileRegistry(await validateDefinitions(dir), { project: 'testproj', now: new Date(1000) });
    expect(b.hash).toBe(a.hash);
  });

  it('keeps the version on a metadata-only change and says so in the plan', async () => {
    const v1 = await compile(BASE_DEFS);
    const v2 = await compile({ ...BASE_DEFS, 'views.yaml': views.replace('first description', 'second description').replace('ttl: 2h', 'ttl: 2h\n    online: false') }, v1);
    expect(v2.version).toBe(2);
    expect(v2.parentHash).toBe(v1.hash);
    expect(v2.featureViews.rider_stats.latest).toBe(1);
    expect(v2.featureViews.rider_stats.versions).toHaveLength(1);
    expect(lookupView(v2, 'rider_stats')).toMatchObject({ description: 'second description', online: false, introducedIn: 1 });
    expect(lookupView(v2, 'rider_stats').fingerprint).toBe(lookupView(v1, 'rider_stats').fingerprint);
    const plan = diffSnapshots(v1, v2);
    expect(plan.changes).toEqual([
      { kind: 'feature_view', name: 'rider_stats', action: 'changed', version: 1, newVersion: false, details: ['description changed (same version)', 'online changed (same version)'] },
    ]);
  });

  it('bumps the version on a schema change, says why, and keeps the pinned old version resolvable', async () => {
    const v1 = await compile(BASE_DEFS);
    const changed = views
      .replace('{ name: trips_today, type: int64 }', '{ name: trips_today, type: int32 }\n      - { name: rating, type: float32 }')
      .replace('ttl: 2h', 'ttl: 1h');
    const v2 = await compile({ ...BASE_DEFS, 'views.yaml': changed }, v1);
    const def = v2.featureViews.rider_stats;
    expect(def.latest).toBe(2);
    expect(def.versions.map((v) => [v.version, v.introducedIn, v.retired])).toEqual([[1, 1, false], [2, 2, false]]);
    expect(def.versions[0]).toEqual(v1.featureViews.rider_stats.versions[0]);

    // eta_model pins rider_stats@1:avg_fare and follows the latest for trips_today.
    expect(v2.featureServices.eta_model.features).toEqual([
      { view: 'rider_stats', version: 2, feature: 'trips_today', pinned: false },
      { view: 'rider_stats', version: 1, feature: 'avg_fare', pinned: true },
    ]);
    const resolved = resolveService(v2, 'eta_model', true);
    expect(resolved.views.map((g) => `${g.view.name}@${g.view.version}`)).toEqual(['rider_stats@2', 'rider_stats@1']);
    expect(lookupView(v2, 'rider_stats', 1).ttlMs).toBe(7_200_000);

    const plan = diffSnapshots(v1, v2);
    const view = plan.changes.find((c) => c.kind === 'feature_view');
    expect(view).toMatchObject({ name: 'rider_stats', action: 'changed', version: 2, newVersion: true });
    expect(view?.details).toEqual(['ttl: 2h → 1h', 'feature trips_today: type int64 → int32', 'feature rating: added (float32)']);
    expect(formatPlan(plan)).toContain('~ feature_view rider_stats changed → new version 2');
  });

  it('bumps the version when the source changes under the view', async () => {
    const v1 = await compile(BASE_DEFS);
    const v2 = await compile({ ...BASE_DEFS, 'views.yaml': views.replace('data/trips/*.parquet', 'data/trips_v2/*.parquet') }, v1);
    expect(v2.featureViews.rider_stats.latest).toBe(2);
    expect(diffSnapshots(v1, v2).changes.find((c) => c.kind === 'feature_view')?.details).toEqual([
      'source.path: "data/trips/*.parquet" → "data/trips_v2/*.parquet"',
    ]);
  });

  it('rejects a pin to a version that does not exist, with file and line', async () => {
    const v1 = await compile(BASE_DEFS);
    await writeRepo(dir, { ...BASE_DEFS, 'services.yaml': 'feature_services:\n  - name: s\n    features: ["rider_stats@3:avg_fare"]\n' });
    const e = await validateDefinitions(dir).then((d) => compileRegistry(d, { project: 'testproj', previous: v1 })).catch((x) => x as PitstopError);
    expect((e as PitstopError).reason).toBe('DEFINITION_INVALID');
    expect((e as PitstopError).problems.map(formatProblem)).toEqual([
      'definitions/services.yaml:3 feature_services[0].features[0]: feature view "rider_stats" has no version 3 (this apply makes version 1 the latest)',
    ]);
  });

  it('removes a deleted view from the snapshot but keeps its numbering for when it returns', async () => {
    const v1 = await compile(BASE_DEFS);
    const other = `sources:
  - { name: trips, path: data/trips/*.parquet, timestamp_field: event_ts }
feature_views:
  - name: other
    entities: [rider]
    source: trips
    features: [{ name: trips_today, type: int64 }]
`;
    const v2 = await compile({ 'entities.yaml': BASE_DEFS['entities.yaml'], 'views.yaml': other }, v1);
    expect(Object.keys(v2.featureViews)).toEqual(['other']);
    expect(v2.removedViews?.rider_stats.versions.every((v) => v.retired)).toBe(true);
    expect(() => lookupView(v2, 'rider_stats', 1)).toThrow(/unknown feature view/);
    expect(diffSnapshots(v1, v2).changes).toEqual(
      expect.arrayContaining([
        { kind: 'feature_view', name: 'rider_stats', action: 'removed', details: ['versions 1..1 retired'] },
        { kind: 'feature_service', name: 'eta_model', action: 'removed', details: [] },
      ]),
    );

    const v3 = await compile({ 'entities.yaml': BASE_DEFS['entities.yaml'], 'views.yaml': views }, v2);
    expect(v3.featureViews.rider_stats.latest).toBe(2);
    expect(v3.featureViews.rider_stats.versions.map((v) => v.retired)).toEqual([true, false]);
    expect(Object.keys(v3.removedViews ?? {})).toEqual(['other']); // rider_stats is live again
  });

  it('retires older versions for good when asked; pins to them become errors', async () => {
    const v1 = await compile(BASE_DEFS);
    const bumped = views.replace('ttl: 2h', 'ttl: 1h');
    const v2 = await compile({ ...BASE_DEFS, 'views.yaml': bumped }, v1);
    expect(() => lookupView(v2, 'rider_stats', 1)).not.toThrow();

    const retiring = bumped.replace('ttl: 1h', 'ttl: 1h\n    retired_versions: [1]');
    const services = 'feature_services:\n  - name: eta_model\n    features: [rider_stats:trips_today]\n';
    const v3 = await compile({ ...BASE_DEFS, 'views.yaml': retiring, 'services.yaml': services }, v2);
    expect(v3.featureViews.rider_stats.versions.map((v) => [v.version, v.retired])).toEqual([[1, true], [2, false]]);
    expect(() => lookupView(v3, 'rider_stats', 1)).toThrow(/no live version 1/);
    expect(diffSnapshots(v2, v3).changes.find((c) => c.kind === 'feature_view')?.details).toEqual(['version 1 retired']);

    // Leaving the list does not revive it; a pin to it is an error with file and line.
    const e = await compile({ ...BASE_DEFS, 'views.yaml': bumped }, v3).catch((x) => x as PitstopError);
    expect((e as PitstopError).problems.map(formatProblem)).toEqual([
      'definitions/services.yaml:3 feature_services[0].features[1]: feature view "rider_stats" has no live version 1 (this apply makes version 2 the latest)',
    ]);
    const bad = await compile({ ...BASE_DEFS, 'views.yaml': bumped.replace('ttl: 1h', 'ttl: 1h\n    retired_versions: [2, 7]'), 'services.yaml': services }, v3).catch((x) => x as PitstopError);
    expect((bad as PitstopError).problems.map(formatProblem)).toEqual([
      'definitions/views.yaml:10 feature_views[0].retired_versions[0]: cannot retire version 2: it is the latest version of "rider_stats"',
      'definitions/views.yaml:10 feature_views[0].retired_versions[1]: feature view "rider_stats" has no version 7',
    ]);
  });

  it('reads definitions split over files in any order with the same result', async () => {
    const a = await compile(BASE_DEFS);
    await writeFile(path.join(dir, 'definitions', 'views.yaml'), '');
    await writeFile(path.join(dir, 'definitions', 'a-views.yaml'), views);
    const b = compileRegistry(await validateDefinitions(dir), { project: 'testproj', now: new Date(0) });
    expect(b.hash).toBe(a.hash);
  });
});
