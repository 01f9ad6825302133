import { describe, expect, it } from 'vitest';
import { resolveRefs, resolveService } from '../../src/registry/resolve.ts';
import { buildSnapshot } from '../support/snapshot.ts';

const snapshot = buildSnapshot({
  views: [
    { name: 'rider_stats', entities: { rider: { rider_id: 'int64' } }, source: { path: 'r.parquet' }, features: { trips: 'int64', fare: 'float64' }, olderVersions: [{ trips: 'int32' }] },
    { name: 'driver_stats', entities: { driver: { driver_id: 'int64' } }, source: { path: 'd.parquet' }, features: { trips: 'int64' } },
  ],
  services: { eta: ['rider_stats:fare', 'rider_stats@1:trips', 'driver_stats:trips'] },
});

describe('resolving feature references', () => {
  it('groups features by view version in request order', () => {
    const r = resolveRefs(snapshot, ['rider_stats:fare', 'driver_stats:trips', 'rider_stats:fare', 'rider_stats@1:trips'], true);
    expect(r.features.map((f) => f.outputName)).toEqual(['rider_stats__fare', 'driver_stats__trips', 'rider_stats__trips']);
    expect(r.views.map((v) => [`${v.view.name}@${v.view.version}`, v.features.map((f) => f.index)])).toEqual([
      ['rider_stats@2', [1]],
      ['driver_stats@1', [0]],
      ['rider_stats@1', [0]],
    ]);
  });

  it('reports a name collision unless full names are asked for', () => {
    expect(() => resolveRefs(snapshot, ['rider_stats:trips', 'driver_stats:trips'], false)).toThrow(/both named "trips"/);
    const r = resolveRefs(snapshot, ['rider_stats:trips', 'driver_stats:trips'], true);
    expect(r.features.map((f) => f.outputName)).toEqual(['rider_stats__trips', 'driver_stats__trips']);
    expect(r.views.map((v) => `${v.view.name}@${v.view.version}`)).toEqual(['rider_stats@2', 'driver_stats@1']);
  });

  it('resolves pinned versions and services', () => {
    const r = resolveService(snapshot, 'eta', true);
    expect(r.features.map((f) => `${f.ref.view}@${f.ref.version}:${f.ref.feature}`)).toEqual([
      'rider_stats@2:fare',
      'rider_stats@1:trips',
      'driver_stats@1:trips',
    ]);
    expect(r.features[1].def.type).toBe('int32');
  });

  it('names what is unknown', () => {
    expect(() => resolveRefs(snapshot, ['nope:x'], false)).toThrow(/unknown feature view "nope"/);
    expect(() => resolveRefs(snapshot, ['rider_stats:nope'], false)).toThrow(/no feature "nope"/);
    expect(() => resolveRefs(snapshot, ['rider_stats@9:trips'], false)).toThrow(/no version 9/);
    expect(() => resolveService(snapshot, 'nope', false)).toThrow(/unknown feature service "nope"/);
  });
});
