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
 * - default: DuckDB `ASOF LEFT JOIN` per view on the join keys and one inequality that orders
 *   rows by (event_ts, created_ts) (see `TieOrder`: one packed BIGINT when the data allows,
 *   else a struct), so the tie-break is part of the ASOF order and no dedup pass is needed; the
 *   ttl is checked on the row the join found (it is the latest eligible one, so if it is too
 *   old all are).
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
import { ENTITY_TS_COLUMN, entityTimeMicros, type EntityTable } from './entity-table.ts';
import { CR, EV, RESERVED_PREFIX } from './feature-table.ts';
import { ident, join, literal, sql, trusted, type Sql } from './sql.ts';

/**
 * How the ASOF join orders a view's rows by (event time, created time):
 * - `event`: event time alone (no created timestamps, or ties already resolved);
 * - `packed`: one BIGINT, ((event − minEvent) / eventUnit) · 2^bits + rank, where rank is 0 for a
 *   NULL created time and (created − event − minDelta) / deltaUnit + 1 otherwise. Exact because
 *   the caller measured, on the same rows, that every event time lies in [minEvent, maxEvent]
 *   and is a multiple of eventUnit, and every created − event lies in [minDelta, maxDelta] and is
 *   a multiple of deltaUnit (see `packedOrder`); it costs what a plain ASOF costs;
 * - `struct`: the pair compared as a struct: always exact, but about twice the CPU of a plain
 *   ASOF on large inputs.
 */
export type TieOrder =
  | { kind: 'event' }
  | {
      kind: 'packed'; minEvent: bigint; maxEvent: bigint; eventUnit: bigint; minDelta: bigint; deltaUnit: bigint; bits: number; mul: bigint; nullCreated?: boolean;
      /**
       * Set when the spans were guessed (Parquet footers and a sample) rather than measured: the
       * order column then checks every row against them (event time in [minEvent, maxEvent] and a
       * multiple of eventUnit, created − event in [minDelta, maxDelta]) and fails the query with
       * `TIE_GUESS_FAILED` when one does not fit, so a wrong guess can never give a wrong row.
       */
      guard?: { maxDelta: bigint };
    }
  | { kind: 'struct' };

/** What `packedOrder` needs to know about a view's rows (µs; deltas absent when no created time). */
export interface TieStats {
  minEvent: bigint;
  maxEvent: bigint;
  /** Largest of 1 s, 1 ms, 1 µs (in µs) that divides every event time. */
  eventUnit: bigint;
  minDelta?: bigint;
  maxDelta?: bigint;
  /** Largest of 1 s, 1 ms, 1 µs (in µs) that divides every created − event. */
  deltaUnit: bigint;
  /** Whether some row has a NULL created time (unknown: assume so). */
  nullCreated?: boolean;
}

const MAX_I64 = 9_223_372_036_854_775_807n;

/**
 * The packed order for rows with these spans, or undefined when it does not fit in 63 bits.
 * The multiplier is the smallest multiple of the event unit above every rank, so the feature side
 * needs no division: ((event − minEvent) / eventUnit) · mul = (event − minEvent) · (mul / eventUnit).
 */
export function packedOrder(st: TieStats): TieOrder | undefined {
  const maxRank = st.minDelta === undefined || st.maxDelta === undefined ? 0n : (st.maxDelta - st.minDelta) / st.deltaUnit + 1n;
  let bits = 0;
  while ((1n << BigInt(bits)) <= maxRank) bits++;
  const mul = ((maxRank + st.eventUnit) / st.eventUnit) * st.eventUnit; // smallest multiple of eventUnit > maxRank
  const top = ((st.maxEvent - st.minEvent) / st.eventUnit) * mul + mul - 1n;
  if (top > MAX_I64) return undefined;
  return { kind: 'packed', minEvent: st.minEvent, maxEvent: st.maxEvent, eventUnit: st.eventUnit, minDelta: st.minDelta ?? 0n, deltaUnit: st.deltaUnit, bits, mul, nullCreated: st.nullCreated ?? true };
}

/** In the error a guessed tie order raises when a row does not fit it (see `TieOrder`). */
export const TIE_GUESS_FAILED = 'pitstop: guessed tie order does not fit the rows';

/**
 * A packed order from spans that were guessed, not measured: the event range as given, created −
 * event anywhere in the widest window around [minDelta, maxDelta] that still packs beside it (at
 * least the given one; undefined when even that does not fit). Every row is checked at run time.
 */
export function guardedPackedOrder(st: { minEvent: bigint; maxEvent: bigint; eventUnit: bigint; minDelta: bigint; maxDelta: bigint; nullCreated?: boolean }): TieOrder | undefined {
  const slots = (st.maxEvent - st.minEvent) / st.eventUnit + 1n;
  // Largest mul (a multiple of eventUnit) with slots · mul − 1 ≤ MAX_I64; ranks 0..mul − 1.
  const mul = ((MAX_I64 + 1n) / slots / st.eventUnit) * st.eventUnit;
  const width = st.maxDelta - st.minDelta + 1n; // ranks needed for the given window (1..width)
  if (mul <= width) return undefined;
  // Widen the window evenly on both sides within the ranks left (rank 0 stays NULL's).
  const spare = mul - 1n - width;
  const minDelta = st.minDelta - spare / 2n;
  const maxDelta = minDelta + mul - 2n; // ranks 1..mul − 1
  let bits = 0;
  while ((1n << BigInt(bits)) < mul) bits++;
  return { kind: 'packed', minEvent: st.minEvent, maxEvent: st.maxEvent, eventUnit: st.eventUnit, minDelta, deltaUnit: 1n, bits, mul, nullCreated: st.nullCreated ?? true, guard: { maxDelta } };
}

export interface PitView {
  request: ViewRequest;
  /** The view version's feature table (see featureTableSql). */
  featureTable: Sql;
  /**
   * The same rows with those without an event time left in (`featureTableSql`'s `nullEvents`),
   * for the ASOF plan, which never matches a NULL order value: without the filter, DuckDB also
   * estimates the side's size right (it guessed a fifth of the rows under the filter).
   */
  asofRows?: Sql;
  /** How ties on event time are broken in the ASOF plan. */
  order: TieOrder;
}

export interface PitSpec {
  entity: EntityTable;
  views: readonly PitView[];
  filterByCreatedTimestamp: boolean;
}

const ROW = '__ps_row';
const T = '__ps_t';
const ORDER = '__ps_o';
const LEFT = '__ps_l';
const MAX_BIGINT = trusted('9223372036854775807');
const MIN_BIGINT = trusted('(-9223372036854775807)');

const keyAlias = (i: number) => `__ps_k${i}`;
const fAlias = (i: number) => `__ps_f${i}`;
const jAlias = (i: number) => `__ps_j${i}`;
export function outputColumns(spec: PitSpec): string[] {
  return [...spec.entity.columns.map((c) => c.name), ...spec.views.flatMap((v) => v.request.features.map((f) => f.outputName))];
}

export function pitQuerySql(spec: PitSpec): Sql {
  checkNames(spec);
  const e = spec.entity;
  // Join keys on the entity side: the entity column itself when it already has the declared
  // type, else one cast column per (column, type), shared by the views that join on it. Every
  // column of `__ps_e` is carried through each ASOF join's sort, so fewer is cheaper.
  const keyCasts: Sql[] = [];
  const castAliases = new Map<string, string>();
  const entityKey = (name: string, type: Parameters<typeof duckdbType>[0]): Sql => {
    const target = duckdbType(type);
    const col = e.columns.find((c) => c.name === name);
    if (col && col.type.toUpperCase() === target.toUpperCase()) return sql`${ident('e')}.${ident(name)}`;
    const id = `${name}\u0000${target}`;
    let alias = castAliases.get(id);
    if (alias === undefined) {
      alias = keyAlias(castAliases.size);
      castAliases.set(id, alias);
      keyCasts.push(sql`CAST(${ident('__ps_src')}.${ident(name)} AS ${trusted(target)}) AS ${ident(alias)}`);
    }
    return sql`${ident('e')}.${ident(alias)}`;
  };
  const viewKeys = spec.views.map((v) => v.request.view.joinKeys.map((k) => entityKey(k.name, k.type)));
  // The entity time in epoch µs: computed where used from a timestamp column (cheaper than
  // carrying one more column through every join's sort); parsed once into a column from text.
  const textTime = e.columns.find((c) => c.name === ENTITY_TS_COLUMN)?.type.toUpperCase() === 'VARCHAR';
  const t = textTime ? sql`${ident('e')}.${ident(T)}` : entityTimeMicros(e, 'e');
  const ctes: Sql[] = [
    sql`${ident('__ps_e')} AS (SELECT ${ident('__ps_src')}.*, ${ident('__ps_src')}.rowid AS ${ident(ROW)}${textTime ? sql`, ${entityTimeMicros(e, '__ps_src')} AS ${ident(T)}` : sql``}${keyCasts.length ? sql`, ${join(keyCasts)}` : sql``} FROM ${ident(e.table)} AS ${ident('__ps_src')})`,
  ];
  const entityCols = e.columns.map((c) => c.name);
  const outputs = spec.views.flatMap((v) => v.request.features.map((f) => f.outputName));
  if (spec.filterByCreatedTimestamp) return windowQuery(spec, ctes, viewKeys, t, entityCols);

  // ASOF plan: one join per view, nested, each computing its view's output values (ttl check
  // included) right after its join, so that what only the check needs (the row's event time or
  // order column) is not carried through the later joins' sorts nor the final one.
  let prev = '__ps_e';
  spec.views.forEach((v, i) => {
    const view = v.request.view;
    const ttlUs = BigInt(view.ttlMs) * 1000n;
    const f = fAlias(i);
    // Only what the join and the output need: the keys, the order column (the event time
    // itself for the event order) and the requested features. The ttl check needs the event
    // time of the row found: recovered from the order column, so it is not carried as well.
    const order = orderColumn(v.order);
    const cols: Sql[] = [
      ...view.joinKeys.map((k) => ident(k.name)),
      order ? sql`${order} AS ${ident(ORDER)}` : ident(EV),
      ...uniqueFeatures(v).map((n) => ident(n)),
    ];
    // The ASOF join never matches a NULL order value, so rows without an event time need no
    // filter (a struct with a NULL field is not NULL: that order reads the filtered rows).
    const rows = v.order.kind !== 'struct' && v.asofRows ? v.asofRows : v.featureTable;
    ctes.push(sql`${ident(f)} AS (SELECT ${join(cols)} FROM (${rows}) AS ${ident('__ps_ft')})`);
    const keyEq = view.joinKeys.map((k, j) => sql`${viewKeys[i][j]} = ${ident(f)}.${ident(k.name)}`);
    const asof = sql`ASOF LEFT JOIN ${ident(f)} ON ${join([...keyEq, asofInequality(v.order, f, t)], ' AND ')}`;
    const ev = order ? eventFromOrder(v.order, sql`${ident(f)}.${ident(ORDER)}`) : sql`${ident(f)}.${ident(EV)}`;
    // An entity row without a time must get no values, but DuckDB's ASOF join (1.5; its
    // sort-based path, used above 64 entity rows) matches a NULL entity side to the key's latest
    // row. The ttl check drops those values (it is NULL for a NULL t); the packed entity side is
    // never NULL (a NULL t gets -1, which matches nothing); otherwise t is checked here.
    const keep = ttlUs > 0n ? sql`${ev} >= ${t} - CAST(${ttlUs} AS BIGINT)` : v.order.kind === 'packed' ? undefined : sql`${t} IS NOT NULL`;
    const outs = v.request.features.map((feat) => {
      const value = sql`${ident(f)}.${ident(feat.def.name)}`;
      return keep ? sql`CASE WHEN ${keep} THEN ${value} END AS ${ident(feat.outputName)}` : sql`${value} AS ${ident(feat.outputName)}`;
    });
    const left = v.order.kind === 'packed'
      ? sql`(SELECT ${ident('e')}.*, ${packedEntitySide(v.order, t)} AS ${ident(LEFT)} FROM ${ident(prev)} AS ${ident('e')}) AS ${ident('e')}`
      : sql`${ident(prev)} AS ${ident('e')}`;
    const carried = v.order.kind === 'packed' ? sql`${ident('e')}.* EXCLUDE (${ident(LEFT)})` : sql`${ident('e')}.*`;
    ctes.push(sql`${ident(jAlias(i))} AS (SELECT ${carried}, ${join(outs)} FROM ${left} ${asof})`);
    prev = jAlias(i);
  });
  return sql`WITH ${join(ctes, ',\n')}
SELECT ${join([...entityCols, ...outputs].map((n) => sql`${ident('e')}.${ident(n)}`), ',\n  ')}
FROM ${ident(prev)} AS ${ident('e')}
ORDER BY ${ident('e')}.${ident(ROW)}`;
}

/** filterByCreatedTimestamp: each view's window plan, joined back to the entity rows by rowid. */
function windowQuery(spec: PitSpec, ctes: Sql[], viewKeys: Sql[][], t: Sql, entityCols: string[]): Sql {
  const joins: Sql[] = [];
  const selects: Sql[] = entityCols.map((n) => sql`${ident('e')}.${ident(n)}`);
  spec.views.forEach((v, i) => {
    const ttlUs = BigInt(v.request.view.ttlMs) * 1000n;
    const j = jAlias(i);
    ctes.push(sql`${ident(fAlias(i))} AS (${v.featureTable})`);
    ctes.push(sql`${ident(j)} AS (${windowPlan(v, i, viewKeys[i], t)})`);
    joins.push(sql`LEFT JOIN ${ident(j)} ON ${ident(j)}.${ident(ROW)} = ${ident('e')}.${ident(ROW)}`);
    for (const feat of v.request.features) {
      const value = sql`${ident(j)}.${ident(feat.def.name)}`;
      selects.push(ttlUs > 0n
        ? sql`CASE WHEN ${ident(j)}.${ident(EV)} >= ${t} - CAST(${ttlUs} AS BIGINT) THEN ${value} END AS ${ident(feat.outputName)}`
        : sql`${value} AS ${ident(feat.outputName)}`);
    }
  });
  return sql`WITH ${join(ctes, ',\n')}
SELECT ${join(selects, ',\n  ')}
FROM ${ident('__ps_e')} AS ${ident('e')}
${join(joins, '\n')}
ORDER BY ${ident('e')}.${ident(ROW)}`;
}

/**
 * The event time of a feature row, recovered from its order column: packed, o // mul is
 * (event − minEvent) / eventUnit exactly (0 ≤ rank < mul, and o ≥ 0); struct, its `t` field.
 */
function eventFromOrder(order: TieOrder, o: Sql): Sql {
  if (order.kind === 'struct') return sql`struct_extract(${o}, 't')`;
  if (order.kind !== 'packed') return o;
  return sql`(${o} // ${big(order.mul)}) * ${big(order.eventUnit)} + ${big(order.minEvent)}`;
}

function uniqueFeatures(v: PitView): string[] {
  return [...new Set(v.request.features.map((f) => f.def.name))];
}

const big = (x: bigint) => sql`CAST(${x} AS BIGINT)`;

/**
 * The feature side of the ASOF inequality, computed once per feature row in the view's CTE
 * (undefined: the event time column itself).
 */
function orderColumn(order: TieOrder): Sql | undefined {
  const ev = ident(EV);
  const cr = ident(CR);
  if (order.kind === 'event') return undefined;
  if (order.kind === 'struct') return sql`struct_pack(t := ${ev}, c := coalesce(${cr}, ${MIN_BIGINT}))`;
  const div = (x: Sql, unit: bigint) => (unit === 1n ? x : sql`(${x}) // ${big(unit)}`);
  const rank = order.deltaUnit === 1n
    ? sql`${cr} - ${ev} + ${big(1n - order.minDelta)}`
    : sql`${div(sql`${cr} - ${ev} - ${big(order.minDelta)}`, order.deltaUnit)} + 1`;
  // rank 0 for a NULL created time (the oldest); the COALESCE only when the rows have one.
  const r = order.nullCreated === false ? rank : sql`coalesce(${rank}, 0)`;
  // (event − minEvent) is a multiple of eventUnit (both are event times), and mul of eventUnit.
  // The rank in parentheses: ((event − minEvent) · k + created) could overflow near the top.
  const packed = sql`(${ev} - ${big(order.minEvent)}) * ${big(order.mul / order.eventUnit)} + (${r})`;
  if (!order.guard) return packed;
  const fits = [
    sql`${ev} BETWEEN ${big(order.minEvent)} AND ${big(order.maxEvent)}`,
    ...(order.eventUnit === 1n ? [] : [sql`(${ev} - ${big(order.minEvent)}) % ${big(order.eventUnit)} = 0`]),
    // Without NULL created times (footers' null counts), a NULL fails the check like a misfit.
    order.nullCreated === false
      ? sql`${cr} - ${ev} BETWEEN ${big(order.minDelta)} AND ${big(order.guard.maxDelta)}`
      : sql`(${cr} IS NULL OR ${cr} - ${ev} BETWEEN ${big(order.minDelta)} AND ${big(order.guard.maxDelta)})`,
  ];
  // A row without an event time passes (its order is NULL, which the join never matches); that
  // test comes second, so rows that fit (all, when the guess holds) skip it.
  return sql`CASE WHEN ${join(fits, ' AND ')} THEN ${packed} WHEN ${ev} IS NULL THEN NULL ELSE error(${literal(TIE_GUESS_FAILED)}) END`;
}

function asofInequality(order: TieOrder, f: string, t: Sql): Sql {
  if (order.kind === 'event') return sql`${t} >= ${ident(f)}.${ident(EV)}`;
  const o = sql`${ident(f)}.${ident(ORDER)}`;
  if (order.kind === 'struct') return sql`struct_pack(t := ${t}, c := ${MAX_BIGINT}) >= ${o}`;
  return sql`${ident('e')}.${ident(LEFT)} >= ${o}`;
}

/**
 * The entity side of a packed order, (t, +inf) packed: computed into a column (`__ps_l`) just
 * before its join, which measured cheaper than leaving the expression in the join condition.
 * t is clamped to maxEvent (a later t matches everything) and below minEvent is -1 (matches
 * nothing); in between, (t − minEvent) ≥ 0 so // is a floor. A NULL t takes the ELSE branch too
 * (least() would skip the NULL and match the latest row).
 */
function packedEntitySide(order: Extract<TieOrder, { kind: 'packed' }>, t: Sql): Sql {
  const mul = order.mul;
  return sql`CASE WHEN ${t} >= ${big(order.minEvent)} THEN ((least(${t}, ${big(order.maxEvent)}) - ${big(order.minEvent)}) // ${big(order.eventUnit)}) * ${big(mul)} + ${big(mul - 1n)} ELSE -1 END`;
}

/** filterByCreatedTimestamp: running arg_max over feature rows merged with entity rows by visibility time. */
function windowPlan(v: PitView, i: number, entityKeys: readonly Sql[], t: Sql): Sql {
  const view = v.request.view;
  const feats = v.request.features.map((f) => f.def.name);
  const keys = view.joinKeys.map((k) => ident(k.name));
  const keysNotNull = (q: (j: number, name: string) => Sql) => join(view.joinKeys.map((k, j) => sql`${q(j, k.name)} IS NOT NULL`), ' AND ');
  const entitySide = sql`SELECT ${join(view.joinKeys.map((k, j) => sql`${entityKeys[j]} AS ${ident(k.name)}`))},
      ${t} AS __ps_at, 1 AS __ps_side, ${ident('e')}.${ident(ROW)}, NULL AS __ps_order, NULL AS __ps_val
    FROM ${ident('__ps_e')} AS ${ident('e')} WHERE ${t} IS NOT NULL AND ${keysNotNull((j) => entityKeys[j])}`;
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
