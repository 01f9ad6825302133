/**
 * The plan: what applying the definitions would change in the registry, object by object, and
 * for feature views whether they get a new version and why (which value-defining fields changed).
 */
import { formatDuration } from '../core/duration.ts';
import type { FeatureViewVersion, RegistrySnapshot } from '../core/registry-model.ts';
import { canonicalJson } from './canonical-json.ts';

export type ObjectKind = 'entity' | 'source' | 'feature_view' | 'feature_service';

export interface PlanChange {
  kind: ObjectKind;
  name: string;
  action: 'added' | 'changed' | 'removed';
  /** For feature views: the version the next snapshot serves as latest (new or kept). */
  version?: number;
  /** True when a feature view gets a new version. */
  newVersion?: boolean;
  /** Human-readable reasons, e.g. `ttl: 2h → 1h`, `feature avg_fare: type float32 → float64`. */
  details: string[];
}

export interface Plan {
  project: string;
  /** The registry version the plan starts from (0 when nothing was applied). */
  fromVersion: number;
  /** The registry version an apply would write. */
  toVersion: number;
  changes: PlanChange[];
}

const KINDS: Array<[ObjectKind, 'entities' | 'sources' | 'featureServices']> = [
  ['entity', 'entities'],
  ['source', 'sources'],
  ['feature_service', 'featureServices'],
];

export function diffSnapshots(prev: RegistrySnapshot | undefined, next: RegistrySnapshot): Plan {
  const changes: PlanChange[] = [];
  for (const [kind, key] of KINDS) {
    const before = (prev?.[key] ?? {}) as Record<string, object>;
    const after = next[key] as Record<string, object>;
    for (const name of Object.keys(after)) {
      if (!Object.hasOwn(before, name)) changes.push({ kind, name, action: 'added', details: [] });
      else {
        const fields = changedFields(before[name], after[name]);
        if (fields.length > 0) changes.push({ kind, name, action: 'changed', details: fields.map((f) => `${f} changed`) });
      }
    }
    for (const name of Object.keys(before)) if (!Object.hasOwn(after, name)) changes.push({ kind, name, action: 'removed', details: [] });
  }
  for (const [name, def] of Object.entries(next.featureViews)) {
    const latest = def.versions[def.latest - 1];
    const priorDef = prev?.featureViews[name];
    if (!priorDef) {
      const returning = prev?.removedViews?.[name];
      changes.push({
        kind: 'feature_view', name, action: 'added', version: def.latest, newVersion: true,
        details: returning ? [`returns after removal; version ${def.latest} (versions 1..${def.latest - 1} stay retired)`] : [],
      });
      continue;
    }
    const prior = priorDef.versions[priorDef.latest - 1];
    const retired = def.versions.filter((v) => v.retired && priorDef.versions[v.version - 1]?.retired === false).map((v) => `version ${v.version} retired`);
    if (latest.version !== prior.version) {
      changes.push({ kind: 'feature_view', name, action: 'changed', version: latest.version, newVersion: true, details: [...whyNewVersion(prior, latest), ...retired] });
    } else {
      const fields = changedFields(prior, latest).map((f) => `${f} changed (same version)`);
      if (fields.length + retired.length > 0) changes.push({ kind: 'feature_view', name, action: 'changed', version: latest.version, newVersion: false, details: [...fields, ...retired] });
    }
  }
  for (const [name, def] of Object.entries(prev?.featureViews ?? {})) {
    if (!Object.hasOwn(next.featureViews, name)) {
      changes.push({ kind: 'feature_view', name, action: 'removed', details: [`versions 1..${def.versions.length} retired`] });
    }
  }
  const order: ObjectKind[] = ['entity', 'source', 'feature_view', 'feature_service'];
  changes.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.name.localeCompare(b.name));
  return { project: next.project, fromVersion: prev?.version ?? 0, toVersion: next.version, changes };
}

/** Why a view version differs from the one before it, field by field. */
export function whyNewVersion(a: FeatureViewVersion, b: FeatureViewVersion): string[] {
  const out: string[] = [];
  const keys = (v: FeatureViewVersion) => v.joinKeys.map((k) => `${k.name}:${k.type}`).join(', ');
  if (keys(a) !== keys(b)) out.push(`join keys: [${keys(a)}] → [${keys(b)}]`);
  if (a.ttlMs !== b.ttlMs) out.push(`ttl: ${formatDuration(a.ttlMs)} → ${formatDuration(b.ttlMs)}`);
  for (const field of ['path', 'format', 'timestampField', 'createdTimestampField', 'fieldMapping'] as const) {
    const x = canonicalJson(a.source[field] ?? null);
    const y = canonicalJson(b.source[field] ?? null);
    if (x !== y) out.push(`source.${field}: ${x} → ${y}`);
  }
  const before = new Map(a.features.map((f) => [f.name, f]));
  const after = new Map(b.features.map((f) => [f.name, f]));
  for (const f of b.features) {
    const old = before.get(f.name);
    if (!old) out.push(`feature ${f.name}: added (${f.type})`);
    else {
      if (old.type !== f.type) out.push(`feature ${f.name}: type ${old.type} → ${f.type}`);
      if ((old.expr ?? '') !== (f.expr ?? '')) out.push(`feature ${f.name}: expr ${JSON.stringify(old.expr ?? null)} → ${JSON.stringify(f.expr ?? null)}`);
    }
  }
  for (const f of a.features) if (!after.has(f.name)) out.push(`feature ${f.name}: removed`);
  const order = (fs: readonly { name: string }[], keep: Map<string, unknown>) => fs.filter((f) => keep.has(f.name)).map((f) => f.name).join(',');
  if (out.length === 0 && order(a.features, after) !== order(b.features, before)) out.push('feature order changed');
  if (out.length === 0) out.push('definition changed since the latest version');
  return out;
}

function changedFields(a: object, b: object): string[] {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  return [...keys].filter((k) => canonicalJson(x[k] ?? null) !== canonicalJson(y[k] ?? null)).sort();
}

export function formatPlan(plan: Plan): string {
  if (plan.changes.length === 0) return `No changes: the registry (version ${plan.fromVersion}) matches the definitions.\n`;
  const sign = { added: '+', changed: '~', removed: '-' } as const;
  const lines = [`Plan for project ${plan.project}: registry version ${plan.fromVersion} → ${plan.toVersion}`];
  for (const c of plan.changes) {
    const v = c.version === undefined ? '' : c.newVersion ? ` → new version ${c.version}` : ` (stays version ${c.version})`;
    lines.push(`  ${sign[c.action]} ${c.kind} ${c.name}${c.action === 'changed' || c.action === 'removed' ? ` ${c.action}` : ''}${v}`);
    for (const d of c.details) lines.push(`      ${d}`);
  }
  const bumps = plan.changes.filter((c) => c.kind === 'feature_view' && c.newVersion).length;
  lines.push(`${plan.changes.length} change(s); ${bumps} feature view version(s) to create.`);
  return `${lines.join('\n')}\n`;
}
