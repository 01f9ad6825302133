/**
 * Cross-object checks on schema-valid definitions: duplicate names (across files), unknown
 * entity, source, view and feature references, join key type mismatches, and names that would
 * collide inside one view. Returns every problem found; references to objects that already
 * failed the schema are not reported a second time.
 */
import type { Problem } from '../core/errors.ts';
import { tryParseFeatureRef } from '../core/feature-ref.ts';
import type { LoadResult } from './load.ts';
import type { Definitions, Located } from './model.ts';

export function checkSemantics(defs: Definitions, invalidNames: LoadResult['invalidNames']): Problem[] {
  const problems: Problem[] = [];
  const entities = indexByName(defs.entities, 'entity', problems);
  const sources = indexByName(defs.sources, 'source', problems);
  const views = indexByName(defs.featureViews, 'feature view', problems);
  indexByName(defs.featureServices, 'feature service', problems);

  // One join key name means one type everywhere, or joins across views silently mismatch.
  const keyTypes = new Map<string, { type: string; where: Located<unknown> }>();
  for (const e of defs.entities) {
    const seen = new Set<string>();
    e.value.join_keys.forEach((k, i) => {
      if (seen.has(k.name)) problems.push(e.problem(['join_keys', i, 'name'], `duplicate join key "${k.name}" in entity "${e.value.name}"`));
      seen.add(k.name);
      const prior = keyTypes.get(k.name);
      if (!prior) keyTypes.set(k.name, { type: k.type, where: e });
      else if (prior.type !== k.type) {
        problems.push(e.problem(['join_keys', i, 'type'], `join key "${k.name}" is ${k.type} here but ${prior.type} in entity "${(prior.where.value as { name: string }).name}" (${where(prior.where)})`));
      }
    });
  }

  for (const v of defs.featureViews) {
    const view = v.value;
    const keyNames = new Map<string, string>();
    view.entities.forEach((name, i) => {
      const entity = entities.get(name);
      if (!entity) {
        if (!invalidNames.entities.has(name)) problems.push(v.problem(['entities', i], `unknown entity "${name}"${suggest(name, entities.keys())}`));
        return;
      }
      if (view.entities.indexOf(name) !== i) problems.push(v.problem(['entities', i], `entity "${name}" is listed twice`));
      for (const k of entity.value.join_keys) {
        const other = keyNames.get(k.name);
        if (other !== undefined && other !== name) {
          problems.push(v.problem(['entities', i], `entities "${other}" and "${name}" share the join key "${k.name}"; a view's join keys must be distinct`));
        }
        keyNames.set(k.name, name);
      }
    });
    const source = sources.get(view.source);
    if (!source && !invalidNames.sources.has(view.source)) {
      problems.push(v.problem(['source'], `unknown source "${view.source}"${suggest(view.source, sources.keys())}`));
    }
    const reserved = new Set([source?.value.timestamp_field, source?.value.created_timestamp_field].filter(Boolean));
    const featureNames = new Set<string>();
    view.features.forEach((f, i) => {
      if (featureNames.has(f.name)) problems.push(v.problem(['features', i, 'name'], `duplicate feature "${f.name}" in feature view "${view.name}"`));
      featureNames.add(f.name);
      if (keyNames.has(f.name)) problems.push(v.problem(['features', i, 'name'], `feature "${f.name}" has the name of a join key of this view`));
      if (reserved.has(f.name)) problems.push(v.problem(['features', i, 'name'], `feature "${f.name}" has the name of the source's timestamp column`));
      if (f.name.startsWith('__')) problems.push(v.problem(['features', i, 'name'], `feature names starting with "__" are reserved`));
    });
  }

  for (const s of defs.featureServices) {
    s.value.features.forEach((text, i) => {
      const ref = tryParseFeatureRef(text);
      if (!ref) {
        problems.push(s.problem(['features', i], `bad feature reference ${JSON.stringify(text)}: expected view:feature or view@N:feature`));
        return;
      }
      const view = views.get(ref.view);
      if (!view) {
        if (!invalidNames.feature_views.has(ref.view)) problems.push(s.problem(['features', i], `unknown feature view "${ref.view}"${suggest(ref.view, views.keys())}`));
        return;
      }
      // A pinned reference names a registry version, checked by the registry compiler; an
      // unpinned one must name a feature the current definition has.
      if (ref.version === undefined && !view.value.features.some((f) => f.name === ref.feature)) {
        problems.push(s.problem(['features', i], `feature view "${ref.view}" has no feature "${ref.feature}"${suggest(ref.feature, view.value.features.map((f) => f.name))}`));
      }
      if (s.value.features.indexOf(text) !== i) problems.push(s.problem(['features', i], `feature "${text}" is listed twice`));
    });
  }
  return problems;
}

function indexByName<T extends { name: string }>(items: Located<T>[], kind: string, problems: Problem[]): Map<string, Located<T>> {
  const out = new Map<string, Located<T>>();
  for (const item of items) {
    const prior = out.get(item.value.name);
    if (prior) problems.push(item.problem(['name'], `duplicate ${kind} "${item.value.name}" (also defined at ${where(prior)})`));
    else out.set(item.value.name, item);
  }
  return out;
}

function where(l: Located<unknown>): string {
  return l.line ? `${l.file}:${l.line}` : l.file;
}

/** ` (did you mean "x"?)` for a close name, else empty. */
export function suggest(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}
