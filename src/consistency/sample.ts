/**
 * Seeded sampling of entities from offline's latest rows. Each entity gets a 53-bit hash of
 * (seed, encoded entity key); the sample is the N entities with the smallest hashes. So the
 * sample depends only on the seed and the set of entities, never on the order DuckDB streams
 * rows in, and the same seed keeps checking mostly the same entities as data grows (handy for
 * a cron job that tracks one population over time). One pass, memory O(N).
 */
import type { RecordBatch, Vector } from 'apache-arrow';
import { PitstopError } from '../core/errors.ts';
import type { FeatureViewVersion } from '../core/registry-model.ts';
import { CREATED_TS_MS_COLUMN, EVENT_TS_MS_COLUMN, type OfflineReader, type TimeRange } from '../offline/ports.ts';
import { EntityKeyEncoder } from '../online/entity-key.ts';
import type { SideRow } from './classify.ts';
import { canonical, jsonValue } from './values.ts';

export interface SampledOffline {
  /** Encoded entity key, as the online store keys the entity. */
  entityKey: Buffer;
  /** Join key values as JSON carries them. */
  key: Record<string, unknown>;
  offline: SideRow;
}

/** cyrb53 (public domain): a fast, well-mixed 53-bit hash; plenty for picking a sample. */
export function hash53(bytes: Uint8Array, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

interface Candidate {
  hash: number;
  entityKey: Buffer;
  key: Record<string, unknown>;
  offline: SideRow;
}

const byHash = (a: Candidate, b: Candidate) => a.hash - b.hash || Buffer.compare(a.entityKey, b.entityKey);

function child(batch: RecordBatch, name: string, view: FeatureViewVersion): Vector {
  const v = batch.getChild(name);
  if (!v) throw new PitstopError('INTERNAL', `offline batch for ${view.name}@${view.version} has no column "${name}"`);
  return v;
}

/**
 * Up to `size` entities of `view` (the smallest hashes under `seed`) with offline's latest row
 * in `range`, restricted to the features at `featureIndices`. Returns them in hash order and
 * the number of entities offline has in the range.
 */
export async function sampleOfflineLatest(
  reader: OfflineReader,
  view: FeatureViewVersion,
  featureIndices: readonly number[],
  range: TimeRange,
  size: number,
  seed: number,
): Promise<{ sampled: SampledOffline[]; entities: number }> {
  const encoder = new EntityKeyEncoder(view.joinKeys);
  let kept: Candidate[] = [];
  // Hashes at or above the threshold cannot make the sample any more (ties resolved on sort).
  let threshold = Infinity;
  let entities = 0;
  const keyVals: unknown[] = new Array(view.joinKeys.length);
  if (size <= 0) return { sampled: [], entities: 0 };
  for await (const batch of reader.readLatest(view, range)) {
    const keyCols = view.joinKeys.map((k) => child(batch, k.name, view));
    const ev = child(batch, EVENT_TS_MS_COLUMN, view);
    const cr = child(batch, CREATED_TS_MS_COLUMN, view);
    const feats = featureIndices.map((i) => child(batch, view.features[i].name, view));
    for (let i = 0; i < batch.numRows; i++) {
      entities++;
      for (let k = 0; k < keyCols.length; k++) keyVals[k] = keyCols[k].get(i);
      const entityKey = encoder.encode(keyVals);
      const h = hash53(entityKey, seed);
      if (h > threshold) continue;
      const created = cr.get(i) as bigint | number | null;
      kept.push({
        hash: h,
        entityKey: Buffer.from(entityKey),
        key: Object.fromEntries(view.joinKeys.map((k, j) => [k.name, jsonValue(k.type, canonical(k.type, keyVals[j]))])),
        offline: {
          eventMs: Number(ev.get(i) as bigint | number),
          createdMs: created === null ? null : Number(created),
          values: featureIndices.map((fi, j) => canonical(view.features[fi].type, feats[j].get(i))),
        },
      });
      if (kept.length >= 2 * size) {
        kept.sort(byHash);
        kept = kept.slice(0, size);
        threshold = kept[size - 1].hash;
      }
    }
  }
  kept.sort(byHash);
  return { sampled: kept.slice(0, size).map(({ entityKey, key, offline }) => ({ entityKey, key, offline })), entities };
}
