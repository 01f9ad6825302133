/**
 * Checks definitions against the schema of their sources' files (through the SourceSchemaProbe
 * port), when the files exist: every column a plain feature, an expression, a join key, a
 * timestamp field or a field_mapping names must exist (after field_mapping), and plain features
 * and join keys must have a compatible column type. When no file matches a source's path yet,
 * its checks are skipped, not failed; expressions are still parsed and guarded.
 */
import type { Problem } from '../core/errors.ts';
import { isJoinKeyType, listElementType, type FeatureType } from '../core/feature-types.ts';
import { checkExpression } from './expressions.ts';
import type { Definitions, Located } from './model.ts';
import type { FeatureViewYaml, SourceYaml } from './schema.ts';
import { suggest } from './semantic.ts';
import type { SourceSchemaProbe } from './source-schema-probe.ts';

/** Mapped column name → DuckDB type. */
type Columns = Map<string, string>;

export async function checkSourceColumns(defs: Definitions, probe: SourceSchemaProbe): Promise<Problem[]> {
  const problems: Problem[] = [];
  const schemas = new Map<string, Promise<Columns | undefined>>();
  for (const s of defs.sources) {
    if (!schemas.has(s.value.name)) schemas.set(s.value.name, describeMapped(s, probe, problems));
  }
  const sources = new Map(defs.sources.map((s) => [s.value.name, s]));
  for (const v of defs.featureViews) {
    const source = sources.get(v.value.source);
    const columns = source ? await schemas.get(source.value.name) : undefined;
    for (const [i, f] of v.value.features.entries()) {
      if (f.expr !== undefined) {
        const check = await checkExpression(probe, f.expr);
        if (!check.ok) {
          problems.push(v.problem(['features', i, 'expr'], check.message));
          continue;
        }
        for (const c of check.columns) {
          if (columns && !columns.has(c)) problems.push(v.problem(['features', i, 'expr'], missing(c, source!, columns)));
        }
      } else if (columns) {
        const type = columns.get(f.name);
        if (type === undefined) {
          problems.push(v.problem(['features', i, 'name'], `${missing(f.name, source!, columns)}; add an expr or a field_mapping`));
        } else if (!fitsFeature(type, f.type as FeatureType)) {
          problems.push(v.problem(['features', i, 'type'], `column "${f.name}" is ${type} in source "${source!.value.name}", which does not fit ${f.type}; change the type or add an expr with a cast`));
        }
      }
    }
    if (columns && source) checkJoinKeys(v, source, columns, defs, problems);
  }
  return problems;
}

function checkJoinKeys(v: Located<FeatureViewYaml>, source: Located<SourceYaml>, columns: Columns, defs: Definitions, problems: Problem[]): void {
  for (const [i, name] of v.value.entities.entries()) {
    const entity = defs.entities.find((e) => e.value.name === name);
    for (const k of entity?.value.join_keys ?? []) {
      const type = columns.get(k.name);
      if (type === undefined) problems.push(v.problem(['entities', i], `join key ${missing(k.name, source, columns)}`));
      else if (isJoinKeyType(k.type) && !fitsJoinKey(type, k.type)) {
        problems.push(v.problem(['entities', i], `join key "${k.name}" is ${k.type} but ${type} in source "${source.value.name}"; joins would silently find nothing`));
      }
    }
  }
}

async function describeMapped(s: Located<SourceYaml>, probe: SourceSchemaProbe, problems: Problem[]): Promise<Columns | undefined> {
  const format = s.value.format ?? (s.value.path.toLowerCase().endsWith('.csv') ? 'csv' : 'parquet');
  let raw: Record<string, string> | undefined;
  try {
    raw = await probe.describeSource({ path: s.value.path, format });
  } catch (e) {
    problems.push(s.problem(['path'], `cannot read the source's files: ${(e as Error).message.split('\n')[0]}`));
    return undefined;
  }
  if (!raw) return undefined;
  const mapping = s.value.field_mapping ?? {};
  for (const from of Object.keys(mapping)) {
    if (!Object.hasOwn(raw, from)) problems.push(s.problem(['field_mapping', from], `field_mapping names column "${from}" that the source files lack${suggest(from, Object.keys(raw))}`));
  }
  const columns: Columns = new Map(Object.entries(raw).map(([c, t]) => [Object.hasOwn(mapping, c) ? mapping[c] : c, t]));
  for (const key of ['timestamp_field', 'created_timestamp_field'] as const) {
    const col = s.value[key];
    if (col === undefined) continue;
    const type = columns.get(col);
    if (type === undefined) problems.push(s.problem([key], `column "${col}" is not in the source files${suggest(col, columns.keys())}`));
    else if (category(type) !== 'timestamp') problems.push(s.problem([key], `column "${col}" is ${type}, not a timestamp or date`));
  }
  return columns;
}

function missing(column: string, source: Located<SourceYaml>, columns: Columns): string {
  return `column "${column}" is not in source "${source.value.name}"${suggest(column, columns.keys())}`;
}

type Category = 'integer' | 'float' | 'bool' | 'string' | 'bytes' | 'timestamp' | `list:${string}` | 'other';

/** The broad kind of a DuckDB type name, e.g. `BIGINT` → integer, `FLOAT[]` → list:float. */
export function category(duckdbType: string): Category {
  const t = duckdbType.trim().toUpperCase();
  const list = /^(.*)\[\d*\]$/.exec(t);
  if (list) return `list:${category(list[1])}`;
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(t)) return 'integer';
  if (/^(FLOAT|DOUBLE|DECIMAL(\(.*\))?)$/.test(t)) return 'float';
  if (t === 'BOOLEAN') return 'bool';
  if (t === 'VARCHAR' || t.startsWith('ENUM(')) return 'string';
  if (t === 'BLOB') return 'bytes';
  if (t.startsWith('TIMESTAMP') || t === 'DATE') return 'timestamp';
  return 'other';
}

function featureCategory(t: FeatureType): Category {
  const elem = listElementType(t);
  if (elem) return `list:${featureCategory(elem)}`;
  if (t === 'int32' || t === 'int64') return 'integer';
  if (t === 'float32' || t === 'float64') return 'float';
  return t as Category;
}

/** Same kind, or an integer column under a float feature (widening); unknown column types pass. */
function fitsFeature(columnType: string, t: FeatureType): boolean {
  const have = category(columnType);
  const want = featureCategory(t);
  if (have.includes('other')) return true;
  return have === want || have.replaceAll('integer', 'float') === want;
}

function fitsJoinKey(columnType: string, t: string): boolean {
  const have = category(columnType);
  return have === 'other' || have === featureCategory(t as FeatureType);
}
