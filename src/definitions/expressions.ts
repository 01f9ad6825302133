/**
 * Guards feature expressions. An `expr` is DuckDB SQL by design and the offline engine splices it
 * into its queries, so it must be exactly one scalar expression over the source's columns:
 * DuckDB parses `SELECT <expr>` and we accept only a single SELECT with one select-list item,
 * no FROM, WHERE, GROUP BY, alias, subquery, star, parameter, window or aggregate. Then, when the source's
 * files exist, every column the expression (or a plain feature, join key or timestamp field)
 * names must exist in the source after field_mapping.
 */
import type { Problem } from '../core/errors.ts';
import type { Definitions, Located } from './model.ts';
import type { FeatureViewYaml, SourceYaml } from './schema.ts';
import { suggest } from './semantic.ts';
import type { SourceSchemaProbe } from './source-schema-probe.ts';

export type ExpressionCheck = { ok: true; columns: string[] } | { ok: false; message: string };

const FORBIDDEN_CLASSES: Record<string, string> = {
  SUBQUERY: 'subqueries are not allowed',
  STAR: '* is not allowed',
  PARAMETER: 'parameters are not allowed',
  WINDOW: 'window functions are not allowed (a feature is computed per row)',
};

/** Parses one expression through the probe and applies the rules above. */
export async function checkExpression(probe: SourceSchemaProbe, expr: string): Promise<ExpressionCheck> {
  // Comments and statement separators could swallow or extend the SQL the expression is spliced into.
  if (/--|\/\*|;/.test(expr)) return { ok: false, message: 'comments (--, /* */) and ";" are not allowed in an expression' };
  const tree = (await probe.serializeSql(`SELECT ${expr}`)) as SerializedSql;
  if (tree.error) {
    const pos = Number(tree.position);
    const at = Number.isFinite(pos) && pos >= 7 ? ` at character ${pos - 6}` : '';
    return { ok: false, message: `not a valid DuckDB expression${at}: ${tree.error_message ?? 'parse error'}` };
  }
  if (tree.statements?.length !== 1) return { ok: false, message: 'must be a single expression' };
  const node = tree.statements[0].node;
  if (node?.type !== 'SELECT_NODE') return { ok: false, message: 'must be a single expression' };
  if (node.select_list?.length !== 1) return { ok: false, message: `must be exactly one expression, found ${node.select_list?.length ?? 0}` };
  if (node.from_table?.type !== 'EMPTY' || node.where_clause || node.having || node.qualify || node.sample
    || (node.group_expressions?.length ?? 0) > 0 || (node.modifiers?.length ?? 0) > 0 || (node.cte_map?.map?.length ?? 0) > 0) {
    return { ok: false, message: 'must be a bare expression (no FROM, WHERE, GROUP BY, ORDER BY, LIMIT or WITH)' };
  }
  const expression = node.select_list[0] as ExprNode;
  if (expression.alias) return { ok: false, message: 'must not carry an alias (AS); the feature name is the alias' };
  const columns = new Set<string>();
  const problem = walk(expression, new Set(), columns, await probe.aggregateFunctionNames());
  return problem ? { ok: false, message: problem } : { ok: true, columns: [...columns] };
}

/** Checks every expression, and every column reference against source schemas where files exist. */
export async function checkExpressions(defs: Definitions, probe: SourceSchemaProbe): Promise<Problem[]> {
  const problems: Problem[] = [];
  const sources = new Map(defs.sources.map((s) => [s.value.name, s]));
  const schemas = new Map<string, Promise<Set<string> | undefined>>();
  const mappedColumns = (s: Located<SourceYaml>): Promise<Set<string> | undefined> => {
    let p = schemas.get(s.value.name);
    if (!p) {
      p = describeMapped(s, probe, problems);
      schemas.set(s.value.name, p);
    }
    return p;
  };
  for (const v of defs.featureViews) {
    const source = sources.get(v.value.source);
    const columns = source ? await mappedColumns(source) : undefined;
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
      } else if (columns && !columns.has(f.name)) {
        problems.push(v.problem(['features', i, 'name'], `${missing(f.name, source!, columns)}; add an expr or a field_mapping`));
      }
    }
    if (columns && source) checkViewColumns(v, source, columns, defs, problems);
  }
  return problems;
}

function checkViewColumns(v: Located<FeatureViewYaml>, source: Located<SourceYaml>, columns: Set<string>, defs: Definitions, problems: Problem[]): void {
  for (const [i, name] of v.value.entities.entries()) {
    const entity = defs.entities.find((e) => e.value.name === name);
    for (const k of entity?.value.join_keys ?? []) {
      if (!columns.has(k.name)) problems.push(v.problem(['entities', i], `join key ${missing(k.name, source, columns)}`));
    }
  }
}

async function describeMapped(s: Located<SourceYaml>, probe: SourceSchemaProbe, problems: Problem[]): Promise<Set<string> | undefined> {
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
  const columns = new Set(Object.keys(raw).map((c) => (Object.hasOwn(mapping, c) ? mapping[c] : c)));
  for (const key of ['timestamp_field', 'created_timestamp_field'] as const) {
    const col = s.value[key];
    if (col !== undefined && !columns.has(col)) problems.push(s.problem([key], `column "${col}" is not in the source files${suggest(col, columns)}`));
  }
  return columns;
}

function missing(column: string, source: Located<SourceYaml>, columns: Set<string>): string {
  return `column "${column}" is not in source "${source.value.name}"${suggest(column, columns)}`;
}

interface SerializedSql {
  error?: boolean;
  error_message?: string;
  position?: string;
  statements?: { node?: SelectNode }[];
}
interface SelectNode {
  type?: string;
  select_list?: unknown[];
  from_table?: { type?: string };
  where_clause?: unknown;
  having?: unknown;
  qualify?: unknown;
  sample?: unknown;
  group_expressions?: unknown[];
  modifiers?: unknown[];
  cte_map?: { map?: unknown[] };
}
interface ExprNode {
  class?: string;
  alias?: string;
  column_names?: string[];
  lhs?: unknown;
  expr?: unknown;
  [key: string]: unknown;
}

/** Collects column references; returns a message for the first forbidden construct. */
function walk(node: unknown, bound: Set<string>, columns: Set<string>, aggregates: ReadonlySet<string>): string | undefined {
  if (Array.isArray(node)) {
    for (const child of node) {
      const p = walk(child, bound, columns, aggregates);
      if (p) return p;
    }
    return undefined;
  }
  if (!node || typeof node !== 'object') return undefined;
  const n = node as ExprNode;
  if (n.class && Object.hasOwn(FORBIDDEN_CLASSES, n.class)) return FORBIDDEN_CLASSES[n.class];
  if (n.class === 'FUNCTION' && typeof n.function_name === 'string' && aggregates.has(n.function_name.toLowerCase())) {
    return `aggregate function ${n.function_name}() is not allowed (a feature is computed per row)`;
  }
  if (n.class === 'COLUMN_REF' && n.column_names?.length) {
    // `a.b` may be struct field access; the column is its first part.
    if (!bound.has(n.column_names[0])) columns.add(n.column_names[0]);
    return undefined;
  }
  if (n.class === 'LAMBDA') {
    // Lambda parameters (`x -> x * 2`) are not columns.
    const params = new Set(bound);
    collectNames(n.lhs, params);
    return walk(n.expr, params, columns, aggregates);
  }
  for (const value of Object.values(n)) {
    if (value && typeof value === 'object') {
      const p = walk(value, bound, columns, aggregates);
      if (p) return p;
    }
  }
  return undefined;
}

function collectNames(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) node.forEach((c) => collectNames(c, into));
  else if (node && typeof node === 'object') {
    const n = node as ExprNode;
    if (n.class === 'COLUMN_REF' && n.column_names?.length) into.add(n.column_names[0]);
    else Object.values(n).forEach((c) => collectNames(c, into));
  }
}
