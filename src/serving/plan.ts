/**
 * Compiles a registry snapshot into what the hot path needs, once per snapshot: for each feature
 * service (and, lazily, each distinct list of feature references) a RequestPlan with the views to
 * read, their storage ids, ttls and join keys, and for each requested feature the view and the
 * position of its value in the stored row. Requests then do array lookups, never registry
 * resolution or parsing.
 */
import { PitstopError } from '../core/errors.ts';
import type { FeatureType } from '../core/feature-types.ts';
import type { JoinKey, RegistrySnapshot } from '../core/registry-model.ts';
import { resolveRefs, resolveService, type ResolvedRequest } from '../registry/resolve.ts';
import { viewStorageId } from '../online/ports.ts';
import { EntityKeyEncoder } from '../online/entity-key.ts';
import { encodeMetadata } from './response-encoder.ts';

export interface ViewPlan {
  name: string;
  version: number;
  /** `view@version`, the online store's id. */
  storageId: string;
  /** Max age in ms; 0 = unbounded. */
  ttlMs: number;
  /** Index into RequestPlan.keyGroups: views with the same join keys share entity keys. */
  keyGroup: number;
  /** Requested features (indices into RequestPlan's feature arrays) served from this view. */
  features: Int32Array;
  /** How many leading values of a stored row must be located to reach every requested one. */
  scanCount: number;
}

export interface RequestPlan {
  /** Metrics label: the feature service name, or `_refs` for a list of references. */
  label: string;
  featureNames: readonly string[];
  /** Per requested feature: its type (JSON rendering). */
  featureTypes: readonly FeatureType[];
  /** Per requested feature: index into `views`. */
  featureView: Int32Array;
  /** Per requested feature: position of its value in the stored row of its view version. */
  featureIndex: Int32Array;
  /**
   * Per requested feature: the first requested feature of its view (itself for that one), whose
   * vector carries the view's event times when a request asks for them once per view.
   */
  firstOfView: Int32Array;
  views: readonly ViewPlan[];
  /** Distinct join key lists, in order of first appearance. */
  keyGroups: readonly (readonly JoinKey[])[];
  /** One entity key encoder per key group. */
  keyEncoders: readonly EntityKeyEncoder[];
  /** Every join key the request must carry (the union over key groups). */
  joinKeys: readonly JoinKey[];
  joinKeyNames: readonly string[];
  /** `views[i].storageId`, ready to hand to `readRows`. */
  storageIds: readonly string[];
  /** `views[i].ttlMs`, handed to `readSpans` with the storage ids. */
  ttlMs: readonly number[];
  /** Response metadata (feature names, registry version) already encoded as protobuf. */
  metadataBytes: Buffer;
}

export interface ServingSnapshot {
  snapshot: RegistrySnapshot;
  /** Plan for a request: a feature service name or a list of feature references. */
  plan(kind: { featureService?: string; features?: readonly string[] }, fullFeatureNames: boolean): RequestPlan;
}

/** Most distinct reference lists remembered per snapshot; the cache is cleared when full. */
const REF_PLAN_CACHE = 1024;

export function compileSnapshot(snapshot: RegistrySnapshot): ServingSnapshot {
  const servicePlans = [new Map<string, RequestPlan>(), new Map<string, RequestPlan>()];
  for (const name of Object.keys(snapshot.featureServices)) {
    for (const full of [false, true]) {
      try {
        servicePlans[full ? 1 : 0].set(name, buildPlan(snapshot, resolveService(snapshot, name, full), name));
      } catch {
        // A service whose features collide without full names is only servable with them; the
        // error is raised again (with its message) when such a request comes in.
      }
    }
  }
  const refPlans = [new Map<string, RequestPlan>(), new Map<string, RequestPlan>()];
  return Object.freeze({
    snapshot,
    plan(kind: { featureService?: string; features?: readonly string[] }, full: boolean): RequestPlan {
      if (kind.featureService) {
        const hit = servicePlans[full ? 1 : 0].get(kind.featureService);
        if (hit) return hit;
        return buildPlan(snapshot, resolveService(snapshot, kind.featureService, full), kind.featureService);
      }
      const refs = kind.features ?? [];
      if (refs.length === 0) throw new PitstopError('BAD_REQUEST', 'the request names no features: give `features` or `feature_service`');
      const cache = refPlans[full ? 1 : 0];
      const key = refs.join('\n');
      let plan = cache.get(key);
      if (!plan) {
        plan = buildPlan(snapshot, resolveRefs(snapshot, refs, full), '_refs');
        if (cache.size >= REF_PLAN_CACHE) cache.clear();
        cache.set(key, plan);
      }
      return plan;
    },
  });
}

function buildPlan(snapshot: RegistrySnapshot, resolved: ResolvedRequest, label: string): RequestPlan {
  const views: ViewPlan[] = [];
  const viewIndex = new Map<string, number>();
  const keyGroups: JoinKey[][] = [];
  const groupIndex = new Map<string, number>();
  const joinKeys = new Map<string, JoinKey>();
  for (const { view } of resolved.views) {
    if (!view.online) {
      throw new PitstopError('VIEW_NOT_ONLINE', `feature view "${view.name}" version ${view.version} is not enabled for the online store`);
    }
    const signature = view.joinKeys.map((k) => `${k.name}:${k.type}`).join(',');
    let g = groupIndex.get(signature);
    if (g === undefined) {
      g = keyGroups.length;
      keyGroups.push([...view.joinKeys]);
      groupIndex.set(signature, g);
    }
    for (const k of view.joinKeys) {
      const prior = joinKeys.get(k.name);
      if (prior && prior.type !== k.type) {
        throw new PitstopError('BAD_REQUEST', `join key "${k.name}" is ${prior.type} in one requested view and ${k.type} in "${view.name}"; request them separately`);
      }
      joinKeys.set(k.name, k);
    }
    viewIndex.set(viewStorageId(view.name, view.version), views.length);
    views.push({ name: view.name, version: view.version, storageId: viewStorageId(view.name, view.version), ttlMs: view.ttlMs, keyGroup: g, features: new Int32Array(0), scanCount: 0 });
  }
  const n = resolved.features.length;
  const featureView = new Int32Array(n);
  const featureIndex = new Int32Array(n);
  const perView: number[][] = views.map(() => []);
  resolved.features.forEach((f, i) => {
    const v = viewIndex.get(viewStorageId(f.ref.view, f.ref.version))!;
    featureView[i] = v;
    featureIndex[i] = f.index;
    perView[v].push(i);
    views[v].scanCount = Math.max(views[v].scanCount, f.index + 1);
  });
  views.forEach((v, i) => (v.features = Int32Array.from(perView[i])));
  const firstOfView = Int32Array.from(featureView, (v) => perView[v][0]);
  const featureNames = resolved.features.map((f) => f.outputName);
  return Object.freeze({
    label,
    featureNames,
    featureTypes: resolved.features.map((f) => f.def.type),
    featureView,
    featureIndex,
    firstOfView,
    views,
    keyGroups,
    keyEncoders: keyGroups.map((keys) => new EntityKeyEncoder(keys)),
    joinKeys: [...joinKeys.values()],
    joinKeyNames: [...joinKeys.keys()],
    storageIds: views.map((v) => v.storageId),
    ttlMs: views.map((v) => v.ttlMs),
    metadataBytes: encodeMetadata(featureNames, snapshot.version),
  });
}
