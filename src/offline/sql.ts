/**
 * SQL as a value. Every statement pitstop sends to DuckDB is built here from fragments:
 *
 * - `sql\`...\`` is a tagged template; the literal text is ours, and every interpolated plain
 *   value (string, number, bigint, boolean, null) becomes a *parameter* (`$1`, `$2`, ...), never
 *   text. Interpolated `Sql` fragments are spliced as built.
 * - `ident(name)` is the only way a name (a column, a table, a file's column header) enters SQL:
 *   it goes through `quoteIdent`, the one identifier-quoting function.
 * - `literal(value)` inlines a value through `quoteLiteral`, for the few places DuckDB cannot
 *   take a parameter (and for `explain`, which prints runnable SQL with values inlined).
 * - `definitionExpr(text)` embeds a feature expression written by a data engineer (validated by
 *   the definitions layer as a single expression without subqueries) wrapped in parentheses; it
 *   is the only raw text from a definition that is ever spliced.
 *
 * A statement renders once to `{ text, params }` for a prepared statement, or inline for display.
 */

export type SqlValue = string | number | bigint | boolean | null;

type Part =
  | { kind: 'text'; text: string }
  | { kind: 'ident'; name: string }
  | { kind: 'param'; value: SqlValue }
  | { kind: 'literal'; value: SqlValue };

export class Sql {
  /** @internal use the `sql` tag and the helpers below. */
  constructor(readonly parts: readonly Part[]) {}

  /** Text with `$n` placeholders and the parameter values in order. */
  render(): { text: string; params: SqlValue[] } {
    const params: SqlValue[] = [];
    let text = '';
    for (const p of this.parts) {
      if (p.kind === 'text') text += p.text;
      else if (p.kind === 'ident') text += quoteIdent(p.name);
      else if (p.kind === 'literal') text += quoteLiteral(p.value);
      else {
        params.push(p.value);
        text += `$${params.length}`;
      }
    }
    return { text, params };
  }

  /** Text with every parameter inlined through `quoteLiteral`: what `explain` prints. */
  inline(): string {
    return new Sql(this.parts.map((p) => (p.kind === 'param' ? { kind: 'literal' as const, value: p.value } : p))).render().text;
  }
}

export type SqlArg = Sql | SqlValue;

/** The tagged template: literal text is trusted, interpolated values become parameters. */
export function sql(strings: TemplateStringsArray, ...args: SqlArg[]): Sql {
  const parts: Part[] = [];
  strings.forEach((s, i) => {
    if (s) parts.push({ kind: 'text', text: s });
    if (i < args.length) pushArg(parts, args[i]);
  });
  return new Sql(parts);
}

function pushArg(parts: Part[], a: SqlArg): void {
  if (a instanceof Sql) parts.push(...a.parts);
  else parts.push({ kind: 'param', value: a });
}

/** A name: a column, table or alias. Always quoted. */
export function ident(name: string): Sql {
  return new Sql([{ kind: 'ident', name }]);
}

/** `a.b`: a qualified name, each part quoted. */
export function qualified(...names: string[]): Sql {
  return join(names.map(ident), '.');
}

/** A value inlined as a quoted literal (for places where DuckDB takes no parameter). */
export function literal(value: SqlValue): Sql {
  return new Sql([{ kind: 'literal', value }]);
}

/** A value as a parameter (same as interpolating it; useful when building lists). */
export function param(value: SqlValue): Sql {
  return new Sql([{ kind: 'param', value }]);
}

/**
 * A feature expression from a definition, in parentheses so that it stays one operand whatever
 * its operators. The definitions layer has already checked it is a single expression.
 */
export function definitionExpr(text: string): Sql {
  // The newline ends any trailing `--` comment before our closing parenthesis.
  return new Sql([{ kind: 'text', text: `(${text}\n)` }]);
}

/**
 * The caller's own entity query (`--entities-sql`), checked beforehand to be exactly one SELECT
 * statement; embedded as a subquery in parentheses. It runs with the caller's own rights on their
 * own in-process database, as the query they asked to run.
 */
export function userQuery(text: string): Sql {
  return new Sql([{ kind: 'text', text: `(${text.trim().replace(/;\s*$/, '')}\n)` }]);
}

/**
 * Trusted text that pitstop itself writes (keywords, type names from a closed set). Never pass
 * anything from a definition, a request or a file through this.
 */
export function trusted(text: string): Sql {
  return new Sql([{ kind: 'text', text }]);
}

export function join(fragments: readonly SqlArg[], separator = ', '): Sql {
  const parts: Part[] = [];
  fragments.forEach((f, i) => {
    if (i > 0 && separator) parts.push({ kind: 'text', text: separator });
    pushArg(parts, f);
  });
  return new Sql(parts);
}

export const empty = new Sql([]);

/** The one identifier-quoting function: double quotes, embedded double quotes doubled. */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifier contains a NUL character');
  return `"${name.replaceAll('"', '""')}"`;
}

/** The one literal-quoting function. */
export function quoteLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'bigint') return `${value}::BIGINT`;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot inline non-finite number ${value}`);
    return Number.isInteger(value) ? String(value) : `${value}::DOUBLE`;
  }
  if (value.includes('\u0000')) throw new Error('string literal contains a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}
