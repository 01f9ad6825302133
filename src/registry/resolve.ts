/**
 * Turns what a caller asks for (a list of feature references or a feature service name) into
 * resolved features grouped by feature view version. Shared by offline retrieval, online
 * serving and the CLI, so that all three agree on versions, names and collisions.
 */
import { PitstopError } from '../core/errors.ts';
import { parseFeatureRef, formatFeatureRef, outputName } from '../core/feature-ref.ts';
import type { FeatureDef, FeatureViewVersion, RegistrySnapshot, ResolvedFeatureRef } from '../core/registry-model.ts';

export interface ResolvedFeature {
  ref: ResolvedFeatureRef;
  def: FeatureDef;
  /** Index of the feature inside its view version's `features`. */
  index: number;
  /** Output column / response name: `feature` or `view__feature`. */
  outputName: string;
}

export interface ViewRequest {
  view: FeatureViewVersion;
  features: ResolvedFeature[];
}

export interface ResolvedRequest {
  /** Features in request order. */
  features: ResolvedFeature[];
  /** The same features grouped by view version, in order of first appearance. */
  views: ViewRequest[];
}

/** Look up one view version; `version` undefined means the view's latest. */
export function lookupView(snapshot: RegistrySnapshot, view: string, version?: number): FeatureViewVersion {
  const def = Object.hasOwn(snapshot.featureViews, view) ? snapshot.featureViews[view] : undefined;
  if (!def) throw new PitstopError('UNKNOWN_FEATURE_VIEW', `unknown feature view "${view}"`);
  const v = def.versions[(version ?? def.latest) - 1];
  if (!v || v.retired) {
    throw new PitstopError('UNKNOWN_FEATURE_VIEW', `feature view "${view}" has no ${v?.retired ? 'live ' : ''}version ${version}`);
  }
  return v;
}

export function resolveRefs(snapshot: RegistrySnapshot, refs: readonly string[], fullFeatureNames: boolean): ResolvedRequest {
  const resolved: ResolvedFeatureRef[] = refs.map((text) => {
    const ref = parseFeatureRef(text);
    const view = lookupView(snapshot, ref.view, ref.version);
    return { view: ref.view, version: view.version, feature: ref.feature, pinned: ref.version !== undefined };
  });
  return assemble(snapshot, resolved, fullFeatureNames);
}

export function resolveService(snapshot: RegistrySnapshot, service: string, fullFeatureNames: boolean): ResolvedRequest {
  const def = Object.hasOwn(snapshot.featureServices, service) ? snapshot.featureServices[service] : undefined;
  if (!def) throw new PitstopError('UNKNOWN_FEATURE_SERVICE', `unknown feature service "${service}"`);
  return assemble(snapshot, def.features, fullFeatureNames);
}

function assemble(snapshot: RegistrySnapshot, refs: readonly ResolvedFeatureRef[], fullFeatureNames: boolean): ResolvedRequest {
  const features: ResolvedFeature[] = [];
  const byView = new Map<string, ViewRequest>();
  const seen = new Map<string, string>();
  for (const ref of refs) {
    const view = lookupView(snapshot, ref.view, ref.version);
    const index = view.features.findIndex((f) => f.name === ref.feature);
    if (index < 0) {
      throw new PitstopError('UNKNOWN_FEATURE', `feature view "${view.name}" version ${view.version} has no feature "${ref.feature}" (in ${formatFeatureRef(ref)})`);
    }
    const name = outputName(ref, fullFeatureNames);
    const prior = seen.get(name);
    const text = formatFeatureRef(ref);
    if (prior !== undefined) {
      if (prior === text) continue; // the same feature asked twice is served once
      throw new PitstopError('FEATURE_NAME_COLLISION', `features ${prior} and ${text} are both named "${name}"; request full feature names`);
    }
    seen.set(name, text);
    const feature: ResolvedFeature = { ref, def: view.features[index], index, outputName: name };
    features.push(feature);
    const key = `${view.name}@${view.version}`;
    let group = byView.get(key);
    if (!group) byView.set(key, (group = { view, features: [] }));
    group.features.push(feature);
  }
  return { features, views: [...byView.values()] };
}
