/**
 * The bench feature repository, after Feast's benchmark: 25 feature views x 10 int64 features
 * over 10,000 drivers, of which 7,000 have rows (requested keys are drawn from all 10,000, so
 * about 30% miss). Feature services: `fs_10` (1 view), `fs_50` (5 views), `fs_250` (25 views).
 */
import { buildSnapshot } from '../../test/support/snapshot.ts';
import type { RegistrySnapshot } from '../../src/core/registry-model.ts';
import { EntityKeyEncoder } from '../../src/online/entity-key.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { viewStorageId, type OnlineWrite } from '../../src/online/ports.ts';

export const VIEWS = 25;
export const FEATURES_PER_VIEW = 10;
export const ENTITIES = 10_000;
export const PROJECT = 'bench';

const viewName = (v: number) => `fv_${String(v).padStart(2, '0')}`;
const refs = (views: number) => Array.from({ length: views }, (_, v) => Array.from({ length: FEATURES_PER_VIEW }, (_, f) => `${viewName(v)}:${viewName(v)}_f${f}`)).flat();

export function benchSnapshot(): RegistrySnapshot {
  return buildSnapshot({
    project: PROJECT,
    views: Array.from({ length: VIEWS }, (_, v) => ({
      name: viewName(v),
      entities: { driver: { driver_id: 'int64' as const } },
      source: { path: `data/${viewName(v)}.parquet` },
      ttlMs: 0,
      features: Object.fromEntries(Array.from({ length: FEATURES_PER_VIEW }, (_, f) => [`${viewName(v)}_f${f}`, 'int64' as const])),
    })),
    services: { fs_10: refs(1), fs_50: refs(5), fs_250: refs(25) },
  });
}

/** Storage ids per feature service (the floor server reads these). */
export function serviceViews(): Record<string, string[]> {
  const ids = (n: number) => Array.from({ length: n }, (_, v) => viewStorageId(viewName(v), 1));
  return { fs_10: ids(1), fs_50: ids(5), fs_250: ids(25) };
}

/** Deterministic "has a row" test: 70% of ids. */
export function stored(id: number): boolean {
  return (Math.imul(id + 1, 2654435761) >>> 0) % 100 < 70;
}

/** Every row to write, in batches. */
export function* benchRows(now: number, batch = 2000): Generator<OnlineWrite[]> {
  const keys = new EntityKeyEncoder([{ name: 'driver_id', type: 'int64' }]);
  let out: OnlineWrite[] = [];
  for (let v = 0; v < VIEWS; v++) {
    const enc = new RowEncoder(Array.from({ length: FEATURES_PER_VIEW }, (_, f) => ({ name: `f${f}`, type: 'int64' as const })));
    for (let id = 0; id < ENTITIES; id++) {
      if (!stored(id)) continue;
      const values = Array.from({ length: FEATURES_PER_VIEW }, (_, f) => id * 1000 + v * 10 + f);
      out.push({ view: viewStorageId(viewName(v), 1), entity: keys.encode([id]), row: enc.encode(now - (id % 3600) * 1000, now, values) });
      if (out.length >= batch) {
        yield out;
        out = [];
        enc.newChunk();
      }
    }
  }
  if (out.length) yield out;
}
