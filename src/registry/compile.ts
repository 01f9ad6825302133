/**
 * Compiles validated definitions on top of the previous registry snapshot into the next one.
 *
 * Versioning: each feature view's fingerprint is the sha256 of everything that defines its
 * values (ordered features with types and expressions, join keys, the source's value-defining
 * fields, ttl), never its metadata. The same fingerprint as the view's latest version keeps that
 * version (metadata, `online` and entity names updated in place); a different one appends version
 * N+1 and leaves older versions addressable as `view@N`. A view removed from the definitions
 * leaves `featureViews` and is kept in `removedViews` with its versions retired, so if it returns
 * its numbering continues. `retired_versions` retires older versions for good. Feature service
 * references resolve to concrete versions here.
 */
import path from 'node:path';
import type { Problem } from '../core/errors.ts';
import { parseDuration } from '../core/duration.ts';
import { tryParseFeatureRef } from '../core/feature-ref.ts';
import type { FeatureType, JoinKeyType } from '../core/feature-types.ts';
import {
  REGISTRY_FORMAT_VERSION,
  type EntityDef,
  type FeatureServiceDef,
  type FeatureViewDef,
  type FeatureViewVersion,
  type JoinKey,
  type Metadata,
  type RegistrySnapshot,
  type SourceDef,
} from '../core/registry-model.ts';
import type { Definitions } from '../definitions/model.ts';
import { throwIfProblems } from '../definitions/validate.ts';
import { sha256Canonical } from './canonical-json.ts';
import { snapshotHash } from './snapshot-hash.ts';

export interface CompileOptions {
  /** Project name from pitstop.yaml. */
  project: string;
  /** The snapshot to build on; undefined for the first apply. */
  previous?: RegistrySnapshot;
  /** Creation time of the new snapshot; default now. */
  now?: Date;
}

export function compileRegistry(defs: Definitions, options: CompileOptions): RegistrySnapshot {
  const { previous } = options;
  const version = (previous?.version ?? 0) + 1;
  const problems: Problem[] = [];

  const entities: Record<string, EntityDef> = {};
  for (const { value: e } of defs.entities) {
    entities[e.name] = { name: e.name, joinKeys: e.join_keys.map((k) => ({ name: k.name, type: k.type as JoinKeyType })), ...meta(e) };
  }
  const sources: Record<string, SourceDef> = {};
  for (const { value: s } of defs.sources) {
    const p = path.posix.normalize(s.path.replaceAll('\\', '/'));
    sources[s.name] = {
      name: s.name,
      path: p,
      format: s.format ?? (p.toLowerCase().endsWith('.csv') ? 'csv' : 'parquet'),
      timestampField: s.timestamp_field,
      createdTimestampField: s.created_timestamp_field,
      fieldMapping: { ...(s.field_mapping ?? {}) },
      ...meta(s),
    };
  }

  const featureViews: Record<string, FeatureViewDef> = {};
  for (const located of defs.featureViews) {
    const v = located.value;
    const joinKeys: JoinKey[] = v.entities.flatMap((name) => entities[name]?.joinKeys ?? []);
    const source = sources[v.source];
    const features = v.features.map((f) => ({ name: f.name, type: f.type as FeatureType, expr: f.expr, ...meta(f) }));
    const ttlMs = v.ttl === undefined ? 0 : parseDuration(v.ttl)!;
    const fingerprint = viewFingerprint({ joinKeys, source, ttlMs, features });
    const prior = previous?.featureViews[v.name] ?? previous?.removedViews?.[v.name];
    const body = { name: v.name, fingerprint, entities: [...v.entities], joinKeys, source, ttlMs, features, online: v.online, ...meta(v) };
    const priorLatest = prior && previous?.featureViews[v.name] ? prior.versions[prior.latest - 1] : undefined;
    if (prior && priorLatest && priorLatest.fingerprint === fingerprint) {
      // Same values: same version; only metadata-like fields are refreshed.
      const versions = [...prior.versions];
      versions[prior.latest - 1] = { ...body, version: priorLatest.version, introducedIn: priorLatest.introducedIn, retired: false };
      featureViews[v.name] = { name: v.name, latest: prior.latest, versions };
    } else {
      const n = (prior?.versions.length ?? 0) + 1;
      const versions = [...(prior?.versions ?? []), { ...body, version: n, introducedIn: version, retired: false }];
      featureViews[v.name] = { name: v.name, latest: n, versions };
    }
    featureViews[v.name] = retireVersions(featureViews[v.name], v.retired_versions ?? [], (i, message) => problems.push(located.problem(['retired_versions', i], message)));
  }

  const removedViews: Record<string, FeatureViewDef> = {};
  for (const [name, def] of Object.entries(previous?.removedViews ?? {})) {
    if (!featureViews[name]) removedViews[name] = def;
  }
  for (const [name, def] of Object.entries(previous?.featureViews ?? {})) {
    if (!featureViews[name]) removedViews[name] = { ...def, versions: def.versions.map((x) => ({ ...x, retired: true })) };
  }

  const featureServices: Record<string, FeatureServiceDef> = {};
  for (const s of defs.featureServices) {
    const refs = s.value.features.flatMap((text, i) => {
      const ref = tryParseFeatureRef(text);
      const view = ref && featureViews[ref.view];
      if (!ref || !view) return []; // reported by the semantic checks
      const v = view.versions[(ref.version ?? view.latest) - 1];
      if (!v || v.retired) {
        problems.push(s.problem(['features', i], `feature view "${ref.view}" has no ${v ? 'live ' : ''}version ${ref.version} (this apply makes version ${view.latest} the latest)`));
        return [];
      }
      if (!v.features.some((f) => f.name === ref.feature)) {
        problems.push(s.problem(['features', i], `feature view "${ref.view}" version ${v.version} has no feature "${ref.feature}"`));
        return [];
      }
      return [{ view: ref.view, version: v.version, feature: ref.feature, pinned: ref.version !== undefined }];
    });
    featureServices[s.value.name] = { name: s.value.name, features: refs, ...meta(s.value) };
  }
  throwIfProblems(problems, 'feature definitions do not fit the registry');

  const body: Omit<RegistrySnapshot, 'hash' | 'createdAt'> = {
    formatVersion: REGISTRY_FORMAT_VERSION,
    project: options.project,
    version,
    parentHash: previous?.hash ?? null,
    entities,
    sources,
    featureViews,
    featureServices,
    ...(Object.keys(removedViews).length > 0 ? { removedViews } : {}),
  };
  return { ...body, hash: snapshotHash(body), createdAt: (options.now ?? new Date()).toISOString() };
}

/**
 * Marks the listed older versions retired. Retirement is permanent (the online store may drop a
 * retired version's data), so a version leaves the list without coming back to life.
 */
function retireVersions(def: FeatureViewDef, retire: readonly number[], problem: (index: number, message: string) => void): FeatureViewDef {
  const versions = [...def.versions];
  retire.forEach((n, i) => {
    if (n === def.latest) problem(i, `cannot retire version ${n}: it is the latest version of "${def.name}"`);
    else if (n > versions.length) problem(i, `feature view "${def.name}" has no version ${n}`);
    else if (!versions[n - 1].retired) versions[n - 1] = { ...versions[n - 1], retired: true };
  });
  return { ...def, versions };
}

/** The value-defining content of a view version; see the module comment. */
export function viewFingerprint(v: Pick<FeatureViewVersion, 'joinKeys' | 'source' | 'ttlMs' | 'features'>): string {
  return sha256Canonical({
    joinKeys: v.joinKeys.map((k) => ({ name: k.name, type: k.type })),
    source: {
      path: v.source.path,
      format: v.source.format,
      timestampField: v.source.timestampField,
      createdTimestampField: v.source.createdTimestampField,
      fieldMapping: v.source.fieldMapping,
    },
    ttlMs: v.ttlMs,
    features: v.features.map((f) => ({ name: f.name, type: f.type, expr: f.expr })),
  });
}

function meta(o: { description?: string; owner?: string; tags?: Record<string, string> }): Metadata {
  return { description: o.description, owner: o.owner, tags: { ...(o.tags ?? {}) } };
}
