import path from 'node:path';
import { DuckDBOfflineStore } from './src/offline/duckdb-offline-store.ts';
import { buildSnapshot } from './test/support/snapshot.ts';
import { trusted } from './src/offline/sql.ts';
const size = process.argv[2] ?? 'quick';
const dataDir = `bench/data/${size}`;
const file = (n: string) => path.join(process.cwd(), dataDir, `${n}.parquet`);
const VIEWS = [['driver_stats','driver_id',2*86400000],['rider_stats','rider_id',7*86400000],['driver_quality','driver_id',0]] as const;
const snapshot = buildSnapshot({ views: VIEWS.map(([name,key,ttl]) => ({ name, entities: { [key]: { [key]: 'int64' as const } }, ttlMs: ttl, source: { path: path.relative(process.cwd(), file(name)), timestampField: 'event_ts', createdTimestampField: 'created_ts' }, features: { f_double: 'float64' as const, f_int: 'int64' as const, f_float: 'float32' as const } })) });
const features = VIEWS.flatMap(([v]) => ['f_double','f_int','f_float'].map(f => `${v}:${f}`));
const store = await DuckDBOfflineStore.create({ repoDir: process.cwd(), offlineDataDir: '/tmp/offl/o' });
let t = performance.now();
const job = await store.historical(snapshot, { entities: { file: file('entities') }, features, fullFeatureNames: true });
console.log('prepare', ((performance.now()-t)/1000).toFixed(2));
const base = job.sql.inline();
const conn = (job as any).conn;
const variants: Record<string,string> = {
  base,
  noorder: base.replace(/ORDER BY "e"."__ps_row"$/, ''),
  plainineq: base.replaceAll(/struct_pack\(t := ("e"."__ps_t"), c := 9223372036854775807\) >= struct_pack\(t := ("__ps_f\d"."__ps_ev"), c := coalesce\("__ps_f\d"."__ps_cr", \(-9223372036854775807\)\)\)/g, '$1 >= $2'),
};
variants.hugeint = base.replaceAll(/struct_pack\(t := ("e"."__ps_t"), c := 9223372036854775807\) >= struct_pack\(t := ("__ps_f\d")."__ps_ev", c := coalesce\("__ps_f\d"."__ps_cr", \(-9223372036854775807\)\)\)/g, '(($1::HUGEINT << 64) + 18446744073709551615::HUGEINT) >= (($2."__ps_ev"::HUGEINT << 64) + (coalesce($2."__ps_cr", -9223372036854775807)::HUGEINT + 9223372036854775808::HUGEINT))');

variants.floor = `SELECT e.*, a.f_double AS a_double, a.f_int AS a_int, a.f_float AS a_float, b.f_double AS b_double, b.f_int AS b_int, b.f_float AS b_float, c.f_double AS c_double, c.f_int AS c_int, c.f_float AS c_float
  FROM read_parquet('${file('entities')}') e
  ASOF LEFT JOIN read_parquet('${file('driver_stats')}') a ON e.driver_id = a.driver_id AND e.event_timestamp >= a.event_ts
  ASOF LEFT JOIN read_parquet('${file('rider_stats')}') b ON e.rider_id = b.rider_id AND e.event_timestamp >= b.event_ts
  ASOF LEFT JOIN read_parquet('${file('driver_quality')}') c ON e.driver_id = c.driver_id AND e.event_timestamp >= c.event_ts`;
variants.floor_temp = variants.floor.replace(`read_parquet('${file('entities')}') e`, '__ps_entities e');

const E = `read_parquet('${file('entities')}')`;
const F = (n: string) => `read_parquet('${file(n)}')`;
const cols = 'f_double, f_int, f_float';
const mk = (ineq: (a: string) => string, src: (n: string, k: string) => string) => `SELECT e.*, a.f_double AS a_double, a.f_int AS a_int, a.f_float AS a_float, b.f_double AS b_double, b.f_int AS b_int, b.f_float AS b_float, c.f_double AS c_double, c.f_int AS c_int, c.f_float AS c_float
  FROM ${E} e
  ASOF LEFT JOIN ${src('driver_stats','driver_id')} a ON e.driver_id = a.driver_id AND ${ineq('a')}
  ASOF LEFT JOIN ${src('rider_stats','rider_id')} b ON e.rider_id = b.rider_id AND ${ineq('b')}
  ASOF LEFT JOIN ${src('driver_quality','driver_id')} c ON e.driver_id = c.driver_id AND ${ineq('c')}`;
variants.struct_ts = mk((a) => `struct_pack(t := e.event_timestamp, c := 'infinity'::TIMESTAMPTZ) >= struct_pack(t := ${a}.event_ts, c := coalesce(${a}.created_ts, '-infinity'::TIMESTAMPTZ))`, (n) => F(n));
variants.row_ts = mk((a) => `(e.event_timestamp, 'infinity'::TIMESTAMPTZ) >= (${a}.event_ts, coalesce(${a}.created_ts, '-infinity'::TIMESTAMPTZ))`, (n) => F(n));
variants.dedup = 'SELECT 1'; void mk((a) => `e.event_timestamp >= ${a}.event_ts`, (n, k) => `(SELECT ${k}, event_ts, arg_max(struct_pack(${cols}), created_ts) AS s FROM ${F(n)} GROUP BY ALL)`);
variants.dedup2 = mk((a) => `e.event_timestamp >= ${a}.event_ts`, (n, k) => `(SELECT ${k}, event_ts, arg_max(f_double, created_ts) AS f_double, arg_max(f_int, created_ts) AS f_int, arg_max(f_float, created_ts) AS f_float FROM ${F(n)} GROUP BY ${k}, event_ts)`);
variants.qualify = mk((a) => `e.event_timestamp >= ${a}.event_ts`, (n, k) => `(SELECT * FROM ${F(n)} QUALIFY row_number() OVER (PARTITION BY ${k}, event_ts ORDER BY created_ts DESC) = 1)`);
const names = (process.argv[3] ?? 'floor,base').split(',');
const best: Record<string, number> = {};
for (let i=0;i<3;i++) for (const name of names) {
  t = performance.now();
  await conn.run(`COPY (${variants[name]}) TO '/tmp/offl/v.parquet' (FORMAT parquet)`);
  const s = (performance.now()-t)/1000; best[name] = Math.min(best[name] ?? 1e9, s);
}
console.log(best);
await job.close(); await store.close();
