/**
 * Compiles one feature view version into its "feature table": a SELECT whose rows are the view's
 * feature rows in one canonical shape, whatever the source looks like:
 *
 *   join keys (cast to their declared types), __ps_ev (event time, BIGINT epoch µs, UTC),
 *   __ps_cr (created time, BIGINT epoch µs, NULL when the source has none), then one column per
 *   feature cast to `duckdbType(feature.type)`.
 *
 * The rows come from the source file(s) (field mapping applied, feature expressions evaluated)
 * or from the view version's offline materialization, plus the offline push log. Compilation is
 * pure: the caller describes the source's columns first (see `source-scan.ts`).
 */
import { PitstopError } from '../core/errors.ts';
import { duckdbType, type FeatureType } from '../core/feature-types.ts';
import type { FeatureViewVersion } from '../core/registry-model.ts';
import { definitionExpr, ident, join, sql, trusted, type Sql } from './sql.ts';

export const EV = '__ps_ev';
export const CR = '__ps_cr';
/** Stored in offline materializations: true on the row with the largest created time of its (keys, event time). */
export const LATEST = '__ps_latest';
/** Prefix reserved for pitstop's own helper columns. */
export const RESERVED_PREFIX = '__ps_';

export interface SourceColumn {
  name: string;
  /** DuckDB type name as DuckDB prints it, e.g. `BIGINT`, `TIMESTAMP WITH TIME ZONE`. */
  type: string;
}

/** Where a feature table's rows come from. */
export type FeatureRows =
  | {
      kind: 'source';
      /** Absolute path or glob of the source files (for messages). */
      path: string;
      /**
       * The files the path matched when the retrieval was planned: pinned, so that statistics
       * taken at plan time (see the packed tie order) describe exactly the rows the query reads.
       */
      files: readonly string[];
      format: 'parquet' | 'csv';
      /** The source's columns, as DuckDB describes them. */
      columns: readonly SourceColumn[];
    }
  | { kind: 'empty' }
  | {
      kind: 'materialized';
      /** Glob of the materialized Parquet files (canonical stored shape, see `storedColumns`). */
      glob: string;
      /**
       * Read only the rows flagged `__ps_latest` (the largest created time of each
       * (join keys, event time) group): enough for the plain PIT join, which then needs no
       * tie-break. Not for filter_by_created_timestamp, which may need an older correction.
       */
      latestOnly?: boolean;
    };

export interface FeatureTableSpec {
  view: FeatureViewVersion;
  rows: FeatureRows;
  /** The view version's push-log Parquet files (pinned at plan time), when any exist. */
  pushLogFiles?: readonly string[];
  /** Keep only rows with event time in [startUs, endUs). */
  rangeUs?: { start?: bigint; end?: bigint };
}

/** A table-valued scan of files: parameters for the paths, options from a closed set. */
export function scanFiles(files: string | readonly string[], format: 'parquet' | 'csv'): Sql {
  const arg = typeof files === 'string' ? sql`${files}` : sql`[${join([...files])}]`;
  return format === 'parquet' ? sql`read_parquet(${arg})` : sql`read_csv(${arg}, header = true)`;
}

/**
 * The feature table's SQL. `nullEvents`: keep source rows whose event time is NULL (for the
 * ASOF plan, which never matches a NULL order value and runs faster without the filter:
 * DuckDB then also estimates the row count right). Stored rows never have a NULL event time.
 */
export function featureTableSql(spec: FeatureTableSpec, options: { nullEvents?: boolean } = {}): Sql {
  checkReservedNames(spec.view);
  const rows = spec.rows;
  const parts: Sql[] = [rows.kind === 'source' ? fromSource(spec.view, rows, options.nullEvents ?? false) : rows.kind === 'empty' ? noRows(spec.view) : fromStored(spec.view, rows.glob, rows.latestOnly)];
  if (spec.pushLogFiles?.length) parts.push(fromStored(spec.view, spec.pushLogFiles));
  const body = parts.length === 1 ? parts[0] : join(parts, '\nUNION ALL\n');
  const where = rangeFilter(spec.rangeUs);
  return where ? sql`SELECT * FROM (${body}) AS __ps_rows WHERE ${where}` : body;
}

function rangeFilter(r?: { start?: bigint; end?: bigint }): Sql | undefined {
  const conds: Sql[] = [];
  if (r?.start !== undefined) conds.push(sql`${ident(EV)} >= CAST(${r.start} AS BIGINT)`);
  if (r?.end !== undefined) conds.push(sql`${ident(EV)} < CAST(${r.end} AS BIGINT)`);
  return conds.length ? join(conds, ' AND ') : undefined;
}

/** Source rows: field mapping renames, timestamps to epoch µs, expressions, casts. */
function fromSource(view: FeatureViewVersion, rows: Extract<FeatureRows, { kind: 'source' }>, nullEvents: boolean): Sql {
  const src = view.source;
  const byName = new Map(rows.columns.map((c) => [c.name, c]));
  const where = `source "${src.name}" (${rows.path})`;
  const need = (col: string, role: string): SourceColumn => {
    const c = byName.get(col);
    if (!c) throw new PitstopError('SOURCE_UNREADABLE', `${where} has no column "${col}" (${role} of feature view "${view.name}" version ${view.version})`);
    return c;
  };
  const ev = need(src.timestampField, 'its timestamp_field');
  const cr = src.createdTimestampField ? need(src.createdTimestampField, 'its created_timestamp_field') : undefined;

  // Field mapping: a mapped column takes its new name; an unmapped column whose name a mapping
  // takes over is dropped, so names stay unique.
  const mapping = src.fieldMapping;
  const targets = new Set(Object.values(mapping));
  const renamed: Sql[] = [];
  const mappedNames = new Set<string>();
  for (const c of rows.columns) {
    const to = Object.hasOwn(mapping, c.name) ? mapping[c.name] : undefined;
    if (to === undefined && targets.has(c.name)) continue;
    const name = to ?? c.name;
    renamed.push(sql`${ident(c.name)} AS ${ident(name)}`);
    mappedNames.add(name);
  }
  for (const from of Object.keys(mapping)) need(from, 'a field_mapping source column');
  for (const k of view.joinKeys) {
    if (!mappedNames.has(k.name)) throw new PitstopError('SOURCE_UNREADABLE', `${where} has no column for join key "${k.name}" of feature view "${view.name}" (after field_mapping)`);
  }
  for (const f of view.features) {
    if (f.expr === undefined && !mappedNames.has(f.name)) {
      throw new PitstopError('SOURCE_UNREADABLE', `${where} has no column "${f.name}" for feature ${view.name}@${view.version}:${f.name} (and the feature has no expr)`);
    }
  }
  renamed.push(sql`${timestampToMicros(ev, where)} AS ${ident(EV)}`);
  renamed.push(cr ? sql`${timestampToMicros(cr, where)} AS ${ident(CR)}` : sql`CAST(NULL AS BIGINT) AS ${ident(CR)}`);

  const cols: Sql[] = [
    ...view.joinKeys.map((k) => sql`CAST(${ident(k.name)} AS ${trusted(duckdbType(k.type))}) AS ${ident(k.name)}`),
    ident(EV),
    ident(CR),
    ...view.features.map((f) => sql`CAST(${f.expr === undefined ? ident(f.name) : definitionExpr(f.expr)} AS ${trusted(duckdbType(f.type))}) AS ${ident(f.name)}`),
  ];
  const body = sql`SELECT ${join(cols)}\nFROM (SELECT ${join(renamed)} FROM ${scanFiles(rows.files, rows.format)}) AS __ps_src`;
  return nullEvents ? body : sql`${body}\nWHERE ${ident(EV)} IS NOT NULL`;
}

/** A materialization of an empty range: the shape without rows. */
function noRows(view: FeatureViewVersion): Sql {
  const cols: Sql[] = [
    ...view.joinKeys.map((k) => sql`CAST(NULL AS ${trusted(duckdbType(k.type))}) AS ${ident(k.name)}`),
    sql`CAST(NULL AS BIGINT) AS ${ident(EV)}`,
    sql`CAST(NULL AS BIGINT) AS ${ident(CR)}`,
    ...view.features.map((f) => sql`CAST(NULL AS ${trusted(duckdbType(f.type))}) AS ${ident(f.name)}`),
  ];
  return sql`SELECT ${join(cols)} WHERE FALSE`;
}

/** Rows already in the stored shape (push log, materialization): keys, event_ts, created_ts, features. */
function fromStored(view: FeatureViewVersion, files: string | readonly string[], latestOnly = false): Sql {
  const cols: Sql[] = [
    ...view.joinKeys.map((k) => sql`CAST(${ident(k.name)} AS ${trusted(duckdbType(k.type))}) AS ${ident(k.name)}`),
    sql`epoch_us(${ident('event_ts')}) AS ${ident(EV)}`,
    sql`epoch_us(${ident('created_ts')}) AS ${ident(CR)}`,
    ...view.features.map((f) => sql`CAST(${ident(f.name)} AS ${trusted(duckdbType(f.type))}) AS ${ident(f.name)}`),
  ];
  const latest = latestOnly ? sql` AND ${ident(LATEST)}` : sql``;
  return sql`SELECT ${join(cols)}\nFROM read_parquet(${typeof files === 'string' ? sql`${files}` : sql`[${join([...files])}]`}, union_by_name = true, hive_partitioning = false)\nWHERE ${ident('event_ts')} IS NOT NULL${latest}`;
}

/**
 * The columns of the stored shape (push log and offline materialization), from a feature table:
 * event and created time back as TIMESTAMPTZ so the files read well in any tool.
 */
export function storedColumns(view: FeatureViewVersion, options: { latestFlag?: boolean } = {}): Sql {
  const keys = view.joinKeys.map((k) => ident(k.name));
  return join([
    ...keys,
    sql`make_timestamptz(${ident(EV)}) AS ${ident('event_ts')}`,
    sql`make_timestamptz(${ident(CR)}) AS ${ident('created_ts')}`,
    ...view.features.map((f) => ident(f.name)),
    ...(options.latestFlag
      ? [sql`row_number() OVER (PARTITION BY ${join([...keys, ident(EV)])} ORDER BY ${ident(CR)} DESC NULLS LAST) = 1 AS ${ident(LATEST)}`]
      : []),
  ]);
}

/**
 * Event/created time as epoch µs in UTC. Naive timestamps mean UTC (the session runs in UTC);
 * text is parsed as TIMESTAMPTZ so an offset such as `+02:00` is honoured.
 */
function timestampToMicros(c: SourceColumn, where: string): Sql {
  const t = c.type.toUpperCase();
  if (t.startsWith('TIMESTAMP') || t === 'DATE') return sql`epoch_us(${ident(c.name)})`;
  if (t === 'VARCHAR') return sql`epoch_us(CAST(${ident(c.name)} AS TIMESTAMPTZ))`;
  throw new PitstopError('SOURCE_UNREADABLE', `${where}: column "${c.name}" has type ${c.type}, not a timestamp`);
}

function checkReservedNames(view: FeatureViewVersion): void {
  for (const n of [...view.joinKeys.map((k) => k.name), ...view.features.map((f) => f.name)]) {
    if (n.startsWith(RESERVED_PREFIX) || n === 'event_ts' || n === 'created_ts') {
      throw new PitstopError('DEFINITION_INVALID', `feature view "${view.name}": the name "${n}" is reserved by the offline store`);
    }
  }
}

/** A feature's column as the Node side receives it: timestamps as epoch µs so no precision is lost. */
export function forArrow(name: string, type: FeatureType): Sql {
  if (type === 'timestamp') return sql`epoch_us(${ident(name)}) AS ${ident(name)}`;
  if (type === 'list<timestamp>') return sql`list_transform(${ident(name)}, lambda x: epoch_us(x)) AS ${ident(name)}`;
  return ident(name);
}
