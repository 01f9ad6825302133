/**
 * Builds RegistrySnapshot values directly for tests of the offline, online and serving layers,
 * so they do not depend on YAML compilation. (The definitions compiler has its own tests.)
 */
import { createHash } from 'node:crypto';
import type { FeatureType, JoinKeyType } from '../../src/core/feature-types.ts';
import type {
  EntityDef,
  FeatureServiceDef,
  FeatureViewDef,
  FeatureViewVersion,
  RegistrySnapshot,
  SourceDef,
} from '../../src/core/registry-model.ts';
import { parseFeatureRef } from '../../src/core/feature-ref.ts';
import { snapshotHash } from '../../src/registry/snapshot-hash.ts';

export interface ViewSpec {
  name: string;
  /** Entity name → its join keys. */
  entities: Record<string, Record<string, JoinKeyType>>;
  source: Partial<SourceDef> & { path: string };
  ttlMs?: number;
  features: Record<string, FeatureType | { type: FeatureType; expr?: string }>;
  online?: boolean;
  /** Older versions of the same view (feature maps), oldest first; the spec itself is the latest. */
  olderVersions?: Array<Record<string, FeatureType | { type: FeatureType; expr?: string }>>;
}

export interface SnapshotSpec {
  project?: string;
  version?: number;
  views: ViewSpec[];
  /** Service name → feature references (`view[@v]:feature`). */
  services?: Record<string, string[]>;
}

export function buildSnapshot(spec: SnapshotSpec): RegistrySnapshot {
  const entities: Record<string, EntityDef> = {};
  const sources: Record<string, SourceDef> = {};
  const featureViews: Record<string, FeatureViewDef> = {};
  for (const v of spec.views) {
    const joinKeys = Object.entries(v.entities).flatMap(([entity, keys]) => {
      const jk = Object.entries(keys).map(([name, type]) => ({ name, type }));
      entities[entity] = { name: entity, joinKeys: jk, tags: {} };
      return jk;
    });
    const source: SourceDef = {
      name: v.source.name ?? `${v.name}_source`,
      format: v.source.format ?? (v.source.path.endsWith('.csv') ? 'csv' : 'parquet'),
      timestampField: v.source.timestampField ?? 'event_ts',
      createdTimestampField: v.source.createdTimestampField,
      fieldMapping: v.source.fieldMapping ?? {},
      path: v.source.path,
      tags: {},
    };
    sources[source.name] = source;
    const all = [...(v.olderVersions ?? []), v.features];
    const versions: FeatureViewVersion[] = all.map((features, i) => {
      const fs = Object.entries(features).map(([name, t]) =>
        typeof t === 'string' ? { name, type: t, tags: {} } : { name, type: t.type, expr: t.expr, tags: {} },
      );
      const fingerprint = createHash('sha256').update(JSON.stringify({ joinKeys, source, fs, ttl: v.ttlMs ?? 0 })).digest('hex');
      return {
        name: v.name,
        version: i + 1,
        fingerprint,
        entities: Object.keys(v.entities),
        joinKeys,
        source,
        ttlMs: v.ttlMs ?? 0,
        features: fs,
        online: v.online ?? true,
        introducedIn: 1,
        retired: false,
        tags: {},
      };
    });
    featureViews[v.name] = { name: v.name, latest: versions.length, versions };
  }
  const featureServices: Record<string, FeatureServiceDef> = {};
  for (const [name, refs] of Object.entries(spec.services ?? {})) {
    featureServices[name] = {
      name,
      tags: {},
      features: refs.map((text) => {
        const r = parseFeatureRef(text);
        return { view: r.view, feature: r.feature, version: r.version ?? featureViews[r.view].latest, pinned: r.version !== undefined };
      }),
    };
  }
  const body = { formatVersion: 1 as const, project: spec.project ?? 'test', version: spec.version ?? 1, parentHash: null, entities, sources, featureViews, featureServices };
  // The real content hash, so snapshots built here can be committed to a registry store.
  const hash = snapshotHash(body);
  return { ...body, hash, createdAt: new Date(0).toISOString() };
}
