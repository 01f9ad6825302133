/**
 * Feature references as users write them: `view:feature` (the view's latest version) or
 * `view@2:feature` (pinned to version 2).
 */
import { PitstopError } from './errors.ts';

export interface FeatureRef {
  view: string;
  /** Pinned version, or undefined for "the latest version in the snapshot". */
  version?: number;
  feature: string;
}

const REF = /^([A-Za-z_][A-Za-z0-9_]*)(?:@([1-9][0-9]*))?:([A-Za-z_][A-Za-z0-9_]*)$/;

export function tryParseFeatureRef(text: string): FeatureRef | undefined {
  const m = REF.exec(text);
  if (!m) return undefined;
  return m[2] === undefined ? { view: m[1], feature: m[3] } : { view: m[1], version: Number(m[2]), feature: m[3] };
}

export function parseFeatureRef(text: string): FeatureRef {
  const ref = tryParseFeatureRef(text);
  if (!ref) throw new PitstopError('BAD_FEATURE_REFERENCE', `bad feature reference "${text}": expected view[@version]:feature`);
  return ref;
}

export function formatFeatureRef(ref: FeatureRef): string {
  return ref.version === undefined ? `${ref.view}:${ref.feature}` : `${ref.view}@${ref.version}:${ref.feature}`;
}

/** The output column name of a feature: `feature`, or `view__feature` with full feature names. */
export function outputName(ref: { view: string; feature: string }, fullFeatureNames: boolean): string {
  return fullFeatureNames ? `${ref.view}__${ref.feature}` : ref.feature;
}

const VIEW_REF = /^([A-Za-z_][A-Za-z0-9_]*)(?:@([1-9][0-9]*))?$/;

/** A feature view as users name it: `view` (latest version) or `view@2`. */
export function parseViewRef(text: string): { view: string; version?: number } {
  const m = VIEW_REF.exec(text.trim());
  if (!m) throw new PitstopError('BAD_FEATURE_REFERENCE', `bad feature view "${text}": expected view or view@N (N a positive integer)`);
  return m[2] === undefined ? { view: m[1] } : { view: m[1], version: Number(m[2]) };
}
