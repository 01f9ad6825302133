/**
 * SQL as a value: one quoting function for identifiers, one for literals, values as parameters,
 * and a snapshot of the SQL compiled for a small view (so a change to the plan shows in review).
 */
import { describe, expect, it } from 'vitest';
import { featureTableSql } from '../../src/offline/feature-table.ts';
import { packedOrder, pitQuerySql } from '../../src/offline/pit-query.ts';
import { definitionExpr, ident, join, literal, quoteIdent, quoteLiteral, sql, userQuery } from '../../src/offline/sql.ts';
import { resolveRefs } from '../../src/registry/resolve.ts';
import { buildSnapshot } from '../support/snapshot.ts';

describe('quoting', () => {
  it('quotes identifiers by doubling double quotes, whatever they contain', () => {
    expect(quoteIdent('a')).toBe('"a"');
    expect(quoteIdent('we"ird; DROP TABLE x; --')).toBe('"we""ird; DROP TABLE x; --"');
    expect(() => quoteIdent('a\u0000b')).toThrow(/NUL/);
  });

  it('quotes literals by doubling single quotes; numbers and bigints typed', () => {
    expect(quoteLiteral("it's'; --")).toBe("'it''s''; --'");
    expect(quoteLiteral(null)).toBe('NULL');
    expect(quoteLiteral(12n)).toBe('12::BIGINT');
    expect(quoteLiteral(1.5)).toBe('1.5::DOUBLE');
    expect(quoteLiteral(true)).toBe('TRUE');
    expect(() => quoteLiteral(Number.NaN)).toThrow();
  });

  it('turns interpolated values into parameters and inlines them only for display', () => {
    const q = sql`SELECT ${ident('col"x')} FROM read_parquet(${"/tmp/o'neil.parquet"}) WHERE n > ${5} AND s = ${literal('a')}`;
    expect(q.render()).toEqual({ text: `SELECT "col""x" FROM read_parquet($1) WHERE n > $2 AND s = 'a'`, params: ["/tmp/o'neil.parquet", 5] });
    expect(q.inline()).toBe(`SELECT "col""x" FROM read_parquet('/tmp/o''neil.parquet') WHERE n > 5 AND s = 'a'`);
    expect(join([1, ident('b')]).render().text).toBe('$1, "b"');
  });

  it('wraps definition expressions and user queries so a trailing comment cannot swallow the rest', () => {
    expect(sql`CAST(${definitionExpr('a + 1 -- note')} AS BIGINT)`.render().text).toBe('CAST((a + 1 -- note\n) AS BIGINT)');
    expect(userQuery('SELECT 1;').render().text).toBe('(SELECT 1\n)');
  });
});

describe('packed tie order', () => {
  const us = 1n;
  const msU = 1000n;
  const sec = 1_000_000n;
  it('fits (event, created) in one BIGINT only when the spans allow, else undefined (struct order)', () => {
    expect(packedOrder({ minEvent: 0n, maxEvent: 10n, eventUnit: us, deltaUnit: us })).toMatchObject({ kind: 'packed', bits: 0 });
    expect(packedOrder({ minEvent: 0n, maxEvent: 10n, eventUnit: us, minDelta: 0n, maxDelta: 0n, deltaUnit: us })).toMatchObject({ bits: 1 }); // ranks 0 (NULL), 1
    expect(packedOrder({ minEvent: 0n, maxEvent: 10n, eventUnit: us, minDelta: -3n, maxDelta: 4n, deltaUnit: us })).toMatchObject({ bits: 4 }); // ranks 0..8
    const days30 = 2_592_000_000_000n;
    // 30 days of µs event times leave 21 bits: created − event may span about 2 s at µs precision...
    expect(packedOrder({ minEvent: 0n, maxEvent: days30, eventUnit: us, minDelta: 0n, maxDelta: 2_000_000n, deltaUnit: us })).toMatchObject({ bits: 21 });
    expect(packedOrder({ minEvent: 0n, maxEvent: days30, eventUnit: us, minDelta: 0n, maxDelta: 600_000_000n, deltaUnit: us })).toBeUndefined();
    // ...but with event times at ms precision, 10 minutes of µs deltas fit, and at s precision days.
    expect(packedOrder({ minEvent: 0n, maxEvent: days30, eventUnit: msU, minDelta: 0n, maxDelta: 600_000_000n, deltaUnit: us })).toMatchObject({ bits: 30 });
    expect(packedOrder({ minEvent: 0n, maxEvent: days30, eventUnit: sec, minDelta: -86_400_000_000n, maxDelta: 30n * 86_400_000_000n, deltaUnit: msU })).toMatchObject({ bits: 32 });
    // The multiplier is the smallest multiple of the event unit above every rank (not a power of
    // two), so 31 days of µs deltas still fit beside 30 days of whole seconds...
    expect(packedOrder({ minEvent: 0n, maxEvent: days30, eventUnit: sec, minDelta: -86_400_000_000n, maxDelta: 30n * 86_400_000_000n, deltaUnit: us })).toMatchObject({ bits: 42, mul: 2_678_401_000_000n });
    // ...but not 50 days.
    expect(packedOrder({ minEvent: 0n, maxEvent: days30, eventUnit: sec, minDelta: -86_400_000_000n, maxDelta: 50n * 86_400_000_000n, deltaUnit: us })).toBeUndefined();
    expect(packedOrder({ minEvent: 0n, maxEvent: 10n, eventUnit: us, minDelta: -3n, maxDelta: 4n, deltaUnit: us })).toMatchObject({ mul: 9n }); // ranks 0..8
    expect(packedOrder({ minEvent: 0n, maxEvent: 2n ** 62n, eventUnit: us, minDelta: 0n, maxDelta: 1n, deltaUnit: us })).toBeUndefined();
  });
});

describe('compiled SQL for a small view', () => {
  const snap = buildSnapshot({
    views: [
      {
        name: 'driver_stats',
        entities: { driver: { driver_id: 'int64' } },
        ttlMs: 7_200_000,
        source: { path: 'data/drivers.parquet', timestampField: 'ts', createdTimestampField: 'created', fieldMapping: { drv: 'driver_id' } },
        features: { trips: 'int64', rate: { type: 'float64', expr: 'trips / nullif(hours, 0)' } },
      },
    ],
  });
  const view = snap.featureViews.driver_stats.versions[0];
  const spec = {
    view,
    rows: { kind: 'source' as const, path: '/repo/data/*.parquet', files: ['/repo/data/drivers-1.parquet', '/repo/data/drivers-2.parquet'], format: 'parquet' as const, columns: [{ name: 'drv', type: 'BIGINT' }, { name: 'ts', type: 'TIMESTAMP' }, { name: 'created', type: 'TIMESTAMP WITH TIME ZONE' }, { name: 'trips', type: 'BIGINT' }, { name: 'hours', type: 'DOUBLE' }] },
    pushLogFiles: ['/repo/.pitstop/offline/push/driver_stats/v1/b1.parquet'],
  };
  const featureTable = featureTableSql(spec);
  // The ASOF plan reads the rows without the NULL-event filter (it never matches a NULL order).
  const asofRows = featureTableSql(spec, { nullEvents: true });

  it('feature table: mapping, UTC epoch µs times, expressions in parentheses, push log union', () => {
    expect(featureTable.inline()).toMatchSnapshot();
  });

  it('PIT query: ASOF per view with (event, created) order, ttl on the found row, entity order kept', () => {
    const req = resolveRefs(snap, ['driver_stats:trips', 'driver_stats:rate'], false);
    const entity = { table: '__ps_entities', label: 'entity file e.parquet', columns: [{ name: 'driver_id', type: 'BIGINT' }, { name: 'event_timestamp', type: 'TIMESTAMP' }, { name: 'label', type: 'DOUBLE' }] };
    const packed = packedOrder({ minEvent: 1_700_000_000_000_000n, maxEvent: 1_700_086_400_000_000n, eventUnit: 1_000_000n, minDelta: -5_000_000n, maxDelta: 60_000_000n, deltaUnit: 1000n })!;
    expect(packed).toMatchObject({ kind: 'packed', bits: 16 });
    const q = pitQuerySql({ entity, views: [{ request: req.views[0], featureTable, asofRows, order: packed }], filterByCreatedTimestamp: false });
    expect(q.inline()).toMatchSnapshot();
    const s = pitQuerySql({ entity, views: [{ request: req.views[0], featureTable, order: { kind: 'struct' } }], filterByCreatedTimestamp: false });
    expect(s.inline()).toContain('struct_pack(t := epoch_us("e"."event_timestamp"), c := 9223372036854775807) >= "__ps_f0"."__ps_o"');
    expect(s.inline()).toContain('struct_pack(t := "__ps_ev", c := coalesce("__ps_cr", (-9223372036854775807))) AS "__ps_o"');
    const w = pitQuerySql({ entity, views: [{ request: req.views[0], featureTable, order: { kind: 'event' } }], filterByCreatedTimestamp: true });
    expect(w.inline()).toMatchSnapshot();
  });
});
