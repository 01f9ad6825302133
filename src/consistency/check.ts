/**
 * `checkConsistency`: sample entities from the offline store's latest rows, read the same
 * entities from the online store, and compare (see classify.ts). Depends on the ports only
 * (OfflineReader, OnlineReader) and the pure online row codec, so it runs against any adapter
 * pair; app/consistency.ts composes it with the configured stores.
 */
import { PitstopError } from '../core/errors.ts';
import type { OfflineReader } from '../offline/ports.ts';
import type { OnlineReader } from '../online/ports.ts';
import { decodeRow } from '../online/row-codec.ts';
import { EntityKeyList } from '../online/entity-key.ts';
import type { ResolvedRequest } from '../registry/resolve.ts';
import type { SideRow } from './classify.ts';
import { buildReport, type ConsistencyReport, type ViewComparison } from './report.ts';
import { sampleOfflineLatest } from './sample.ts';
import { canonical } from './values.ts';

export interface ConsistencyDeps {
  offline: OfflineReader;
  online: OnlineReader;
}

export interface ConsistencyOptions {
  /** Entities sampled per feature view version; default 1000. */
  sampleSize?: number;
  /** Seed of the sample; default 0. The same seed picks the same entities. */
  seed?: number;
  /** Check time, epoch ms: offline rows with event time after it are ignored, ttl is judged at it; default Date.now(). */
  nowMs?: number;
  /** Highest mismatch rate that still passes; default 0. */
  maxMismatchRate?: number;
  /** Example entities kept per non-matching class and feature; default 3. */
  examplesPerClass?: number;
  /** Entities per online read; default 500. */
  readChunk?: number;
}

export const DEFAULT_SAMPLE_SIZE = 1000;

/**
 * Compare online with offline for the features of `request` (every view version in it must be
 * online). Throws VIEW_NOT_ONLINE, ONLINE_STORE_UNAVAILABLE, ONLINE_ROW_CORRUPT or offline
 * errors; inconsistencies are never errors, they are the report.
 */
export async function checkConsistency(request: ResolvedRequest, deps: ConsistencyDeps, options: ConsistencyOptions = {}): Promise<ConsistencyReport> {
  const sampleSize = options.sampleSize ?? DEFAULT_SAMPLE_SIZE;
  const seed = options.seed ?? 0;
  const nowMs = options.nowMs ?? Date.now();
  const readChunk = options.readChunk ?? 500;
  if (!Number.isInteger(sampleSize) || sampleSize < 1) throw new PitstopError('USAGE', `sample size must be a positive integer, got ${sampleSize}`);
  for (const { view } of request.views) {
    if (!view.online) throw new PitstopError('VIEW_NOT_ONLINE', `feature view "${view.name}" version ${view.version} is not online (online: false); there is nothing online to compare`);
  }
  const comparisons: ViewComparison[] = [];
  for (const { view, features } of request.views) {
    const id = `${view.name}@${view.version}`;
    const indices = features.map((f) => f.index);
    // What a materialization up to now would have written: the latest row with event time <= now.
    const range = { startMs: 0, endMs: nowMs + 1 };
    const { sampled, entities } = await sampleOfflineLatest(deps.offline, view, indices, range, sampleSize, seed);
    const online: (SideRow | null)[] = [];
    for (let s = 0; s < sampled.length; s += readChunk) {
      const part = sampled.slice(s, s + readChunk);
      const [rows] = await deps.online.readRows({ views: [id], entityKeys: [EntityKeyList.of(part.map((e) => e.entityKey))] });
      for (const row of rows) {
        if (row === null) {
          online.push(null);
          continue;
        }
        const d = decodeRow(row, view.features.length);
        online.push({ eventMs: d.eventMs, createdMs: d.createdMs, values: indices.map((fi) => canonical(view.features[fi].type, d.values[fi])) });
      }
    }
    comparisons.push({
      view: id,
      ttlMs: view.ttlMs,
      features: features.map((f) => ({ name: f.def.name, ref: `${id}:${f.def.name}`, type: f.def.type })),
      offlineEntities: entities,
      sampled: sampled.map((e, i) => ({ key: e.key, offline: e.offline, online: online[i] })),
    });
  }
  return buildReport(comparisons, { nowMs, sampleSize, seed, maxMismatchRate: options.maxMismatchRate, examplesPerClass: options.examplesPerClass });
}
