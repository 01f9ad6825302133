/**
 * Compiles a historical retrieval into one point-in-time join query (pure: no I/O).
 *
 * For each entity row (join keys, `event_timestamp` t) and each requested view version, the
 * feature row taken is the latest with equal join keys and event_ts <= t; ties on event_ts go to
 * the larger created_ts (NULL created is oldest); with a ttl > 0 it must also have
 * event_ts >= t - ttl. With `filterByCreatedTimestamp` a row must also have created_ts <= t
 * (NULL created is eligible).
 *
 * Plans:
 * - default: DuckDB `ASOF LEFT JOIN` per view on the join keys and one inequality over the pair
 *   (event_ts, created_ts) compared as a struct, so the tie-break is part of the ASOF order and
 *   no dedup pass is needed; the ttl is checked on the row the join found (it is the latest
 *   eligible one, so if it is too old all are).
 * - filterByCreatedTimestamp: ASOF cannot add a second inequality. A row becomes visible at
 *   avail = max(event_ts, created_ts); entity and feature rows are merged in one stream ordered
 *   by (keys, avail, feature-before-entity) and a running arg_max over (event_ts, created_ts)
 *   gives each entity row the latest visible feature row: O(n log n), no quadratic join.
 * Entity rows keep their order and duplicates (`rowid` of the entity temp table, ordered at the
 * end); every entity row comes back exactly once.
 */
import { PitstopError } from '../core/errors.ts';
import { duckdbType } from '../core/feature-types.ts';
import type { ViewRequest } from '../registry/resolve.ts';
import { entityTimeMicros, type EntityTable } from './entity-table.ts';
import { CR, EV, RESERVED_PREFIX } from './feature-table.ts';
import { ident, join, literal, sql, trusted, type Sql } from './sql.ts';

export interface PitView {
  request: ViewRequest;
  /** The view version's feature table (see featureTableSql). */
  featureTable: Sql;
  /** Whether rows can carry a created timestamp (source created field or push log). */
  hasCreated: boolean;
}

export interface PitSpec {
  entity: EntityTable;
  views: readonly PitView[];
  filterByCreatedTimestamp: boolean;
}

const ROW = '__ps_row';
const T = '__ps_t';
const MAX_BIGINT = trusted('9223372036854775807');
const MIN_BIGINT = trusted('(-9223372036854775807)');

const keyAlias = (i: number, j: number) => `__ps_k${i}_${j}`;
const fAlias = (i: number) => `__ps_f${i}`;
const jAlias = (i: number) => `__ps_j${i}`;

export function outputColumns(spec: PitSpec): string[] {
  return [...spec.entity.columns.map((c) => c.name), ...spec.views.flatMap((v) => v.request.features.map((f) => f.outputName))];
}

export function pitQuerySql(spec: PitSpec): Sql {
  checkNames(spec);
  const e = spec.entity;
  const keyCasts = spec.views.flatMap((v, i) =>
    v.request.view.joinKeys.map((k, j) => sql`CAST(${ident('__ps_src')}.${ident(k.name)} AS ${trusted(duckdbType(k.type))}) AS ${ident(keyAlias(i, j))}`),
  );
  const ctes: Sql[] = [
    sql`${ident('__ps_e')} AS (SELECT ${ident('__ps_src')}.*, ${ident('__ps_src')}.rowid AS ${ident(ROW)}, ${entityTimeMicros(e, '__ps_src')} AS ${ident(T)}${keyCasts.length ? sql`, ${join(keyCasts)}` : sql``} FROM ${ident(e.table)} AS ${ident('__ps_src')})`,
  ];
  const joins: Sql[] = [];
  const selects: Sql[] = e.columns.map((c) => sql`${ident('e')}.${ident(c.name)}`);

  spec.views.forEach((v, i) => {
    const view = v.request.view;
    ctes.push(sql`${ident(fAlias(i))} AS (${v.featureTable})`);
    const ttlUs = BigInt(view.ttlMs) * 1000n;
    if (spec.filterByCreatedTimestamp) {
      ctes.push(sql`${ident(jAlias(i))} AS (${windowPlan(v, i)})`);
      joins.push(sql`LEFT JOIN ${ident(jAlias(i))} ON ${ident(jAlias(i))}.${ident(ROW)} = ${ident('e')}.${ident(ROW)}`);
    } else {
      const f = fAlias(i);
      const keyEq = view.joinKeys.map((k, j) => sql`${ident('e')}.${ident(keyAlias(i, j))} = ${ident(f)}.${ident(k.name)}`);
      const ineq = v.hasCreated
        ? sql`struct_pack(t := ${ident('e')}.${ident(T)}, c := ${MAX_BIGINT}) >= struct_pack(t := ${ident(f)}.${ident(EV)}, c := coalesce(${ident(f)}.${ident(CR)}, ${MIN_BIGINT}))`
        : sql`${ident('e')}.${ident(T)} >= ${ident(f)}.${ident(EV)}`;
      joins.push(sql`ASOF LEFT JOIN ${ident(f)} ON ${join([...keyEq, ineq], ' AND ')}`);
    }
    const alias = spec.filterByCreatedTimestamp ? jAlias(i) : fAlias(i);
    for (const feat of v.request.features) {
      const value = sql`${ident(alias)}.${ident(feat.def.name)}`;
      selects.push(ttlUs > 0n
        ? sql`CASE WHEN ${ident(alias)}.${ident(EV)} >= ${ident('e')}.${ident(T)} - CAST(${ttlUs} AS BIGINT) THEN ${value} END AS ${ident(feat.outputName)}`
        : sql`${value} AS ${ident(feat.outputName)}`);
    }
  });

  return sql`WITH ${join(ctes, ',\n')}
SELECT ${join(selects, ',\n  ')}
FROM ${ident('__ps_e')} AS ${ident('e')}
${join(joins, '\n')}
ORDER BY ${ident('e')}.${ident(ROW)}`;
}

/** filterByCreatedTimestamp: running arg_max over feature rows merged with entity rows by visibility time. */
function windowPlan(v: PitView, i: number): Sql {
  const view = v.request.view;
  const feats = v.request.features.map((f) => f.def.name);
  const keys = view.joinKeys.map((k) => ident(k.name));
  const keysNotNull = (q: (j: number, name: string) => Sql) => join(view.joinKeys.map((k, j) => sql`${q(j, k.name)} IS NOT NULL`), ' AND ');
  const entitySide = sql`SELECT ${join(view.joinKeys.map((k, j) => sql`${ident(keyAlias(i, j))} AS ${ident(k.name)}`))},
      ${ident(T)} AS __ps_at, 1 AS __ps_side, ${ident(ROW)}, NULL AS __ps_order, NULL AS __ps_val
    FROM ${ident('__ps_e')} WHERE ${ident(T)} IS NOT NULL AND ${keysNotNull((j) => ident(keyAlias(i, j)))}`;
  const payload = join([sql`${ident(EV)} := ${ident(EV)}`, ...feats.map((n) => sql`${ident(n)} := ${ident(n)}`)]);
  const featureSide = sql`SELECT ${join(keys)},
      greatest(${ident(EV)}, coalesce(${ident(CR)}, ${ident(EV)})) AS __ps_at, 0 AS __ps_side, NULL AS ${ident(ROW)},
      struct_pack(t := ${ident(EV)}, c := coalesce(${ident(CR)}, ${MIN_BIGINT})) AS __ps_order, struct_pack(${payload}) AS __ps_val
    FROM ${ident(fAlias(i))} WHERE ${keysNotNull((_j, name) => ident(name))}`;
  const best = sql`arg_max(__ps_val, __ps_order) OVER (PARTITION BY ${join(keys)} ORDER BY __ps_at, __ps_side ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`;
  const fields = [EV, ...feats].map((n) => sql`struct_extract(__ps_best, ${literal(n)}) AS ${ident(n)}`);
  return sql`SELECT ${ident(ROW)}, ${join(fields)}
  FROM (SELECT __ps_side, ${ident(ROW)}, ${best} AS __ps_best FROM (${entitySide}
    UNION ALL
    ${featureSide}) AS __ps_u) AS __ps_w
  WHERE __ps_side = 1`;
}

function checkNames(spec: PitSpec): void {
  const entityNames = new Set(spec.entity.columns.map((c) => c.name));
  for (const c of spec.entity.columns) {
    if (c.name.startsWith(RESERVED_PREFIX)) {
      throw new PitstopError('ENTITY_TABLE_INVALID', `${spec.entity.label}: column "${c.name}" uses the prefix ${RESERVED_PREFIX}, reserved by pitstop`);
    }
  }
  for (const v of spec.views) {
    for (const f of v.request.features) {
      if (entityNames.has(f.outputName)) {
        throw new PitstopError('FEATURE_NAME_COLLISION', `feature ${v.request.view.name}@${v.request.view.version}:${f.def.name} would be named "${f.outputName}", like a column of the ${spec.entity.label}; rename the column or request full feature names`);
      }
    }
  }
}
