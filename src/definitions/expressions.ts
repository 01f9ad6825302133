/**
 * Guards feature expressions. An `expr` is DuckDB SQL by design and the offline engine splices it
 * into its queries, so it must be exactly one scalar expression over the source's columns:
 * DuckDB parses `SELECT <expr>` and we accept only a single SELECT with one select-list item,
 * no FROM, WHERE, GROUP BY, alias, subquery, star, parameter, window or aggregate. Then, when the source's
 * files exist, every column the expression (or a plain feature, join key or timestamp field)
 * names must exist in the source after field_mapping.
 */
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
