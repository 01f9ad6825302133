/**
 * The compiled registry: plain, frozen data that every other layer reads. Definitions (YAML)
 * compile into a RegistrySnapshot; the server, the offline engine and materialization only
 * ever see snapshots, never YAML.
 *
 * A feature view has numbered versions. A change to its schema, source or logic (features,
 * types, expressions, entities, source fields, ttl) makes version N+1; metadata-only changes
 * (description, owner, tags) do not. Every version carries a frozen copy of everything it was
 * built from (join keys, source), so `view@2:feature` keeps meaning exactly what it meant.
 */
import type { FeatureType, JoinKeyType } from './feature-types.ts';

/** Registry snapshot format; bump when the shape below changes incompatibly. */
export const REGISTRY_FORMAT_VERSION = 1;

export interface Metadata {
  description?: string;
  owner?: string;
  tags: Readonly<Record<string, string>>;
}

export interface JoinKey {
  name: string;
  type: JoinKeyType;
}

export interface EntityDef extends Metadata {
  name: string;
  joinKeys: readonly JoinKey[];
}

export interface SourceDef extends Metadata {
  name: string;
  /** Path or glob relative to the feature repository root (never escapes it). */
  path: string;
  format: 'parquet' | 'csv';
  /** Column holding each row's event time. */
  timestampField: string;
  /** Column holding each row's creation time; breaks ties between equal event times. */
  createdTimestampField?: string;
  /** Renames source columns: `{ source_column: feature_or_join_key_name }`. */
  fieldMapping: Readonly<Record<string, string>>;
}

export interface FeatureDef extends Metadata {
  name: string;
  type: FeatureType;
  /** DuckDB SQL expression over the (mapped) source columns; absent = the column of the same name. */
  expr?: string;
}

export interface FeatureViewVersion extends Metadata {
  name: string;
  version: number;
  /** Content hash of everything that defines the view's values (not its metadata). */
  fingerprint: string;
  /** Entity names, in definition order. */
  entities: readonly string[];
  /** Join keys of all its entities, in entity order then key order. */
  joinKeys: readonly JoinKey[];
  /** Frozen copy of the source as it was when this version was made. */
  source: SourceDef;
  /** Max age of a value, in milliseconds; 0 = unbounded. */
  ttlMs: number;
  features: readonly FeatureDef[];
  /** Materialized into the online store. */
  online: boolean;
  /** The registry version that introduced this view version. */
  introducedIn: number;
  /** A retired version is no longer addressable for serving or retrieval. */
  retired: boolean;
}

export interface FeatureViewDef {
  name: string;
  /** The current version (what `view:feature` means). */
  latest: number;
  /** All versions, ascending; index i holds version i + 1. */
  versions: readonly FeatureViewVersion[];
}

export interface ResolvedFeatureRef {
  view: string;
  version: number;
  feature: string;
  /** True when the reference named its version; false when it followed the latest. */
  pinned: boolean;
}

export interface FeatureServiceDef extends Metadata {
  name: string;
  features: readonly ResolvedFeatureRef[];
}

export interface RegistrySnapshot {
  formatVersion: typeof REGISTRY_FORMAT_VERSION;
  project: string;
  /** Registry version, 1, 2, 3, ... */
  version: number;
  /** Content hash (sha256 hex) of this snapshot without `hash` and `createdAt`. */
  hash: string;
  /** Hash of the version this one was applied on top of, or null for the first. */
  parentHash: string | null;
  createdAt: string;
  entities: Readonly<Record<string, EntityDef>>;
  sources: Readonly<Record<string, SourceDef>>;
  featureViews: Readonly<Record<string, FeatureViewDef>>;
  featureServices: Readonly<Record<string, FeatureServiceDef>>;
  /**
   * Feature views removed from the definitions, with every version retired. Kept (not served,
   * not listed in featureViews) so a view that comes back continues its version numbers and
   * never reuses `view@N` for different values. Absent in snapshots that never removed a view.
   */
  removedViews?: Readonly<Record<string, FeatureViewDef>>;
}
