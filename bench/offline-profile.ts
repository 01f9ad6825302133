/**
 * Profiling aid for the offline PIT join (not a benchmark: it prints what it measured).
 *
 *   npx tsx bench/offline-profile.ts [--quick] [--sql] [--analyze] [--runs=N] [--threads=N]
 *   npx tsx bench/offline-profile.ts --dump=FILE [--measure]         write the SQL of a retrieval
 *   npx tsx bench/offline-profile.ts --ab A.sql B.sql floor ... [--runs=N] [--threads=N]
 *
 * Uses the data `npm run bench:offline` generated (bench/data/<size>/). The default mode runs the
 * retrieval from the sources RUNS times (the first guesses the tie order and checks every row,
 * later ones reuse the proven order), timing the preparation (entity load, tie order, plan) apart
 * from the join; `--sql` prints the generated query; `--analyze` writes DuckDB's query-tree
 * profile of the join to bench/data/out/profile.txt.
 *
 * `--dump` writes the query of a first retrieval (guessed tie order; `--measure`: measured) with
 * values inlined, for editing into variants. `--ab` runs SQL files (and `floor`, the bench's
 * hand-written statement) as `COPY (...) TO parquet` on one connection holding the entity table
 * (`__ps_entities`), interleaved, and prints process CPU seconds (user + sys; DuckDB's threads
 * included) best of N with every run, and the load average before and after: an A/B of
 * generated SQL.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBOfflineStore } from '../src/offline/duckdb-offline-store.ts';
import { loadEntityTable } from '../src/offline/entity-table.ts';
import { trusted, sql, literal } from '../src/offline/sql.ts';
import { buildSnapshot } from '../test/support/snapshot.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const RUNS = Number(arg('runs') ?? 2);
const threads = arg('threads') ? Number(arg('threads')) : undefined;
const dataDir = path.join(ROOT, 'bench', 'data', quick ? 'quick' : 'full');
const outDir = path.join(ROOT, 'bench', 'data', 'out');
const file = (n: string) => path.join(dataDir, `${n}.parquet`);
const VIEWS = [
  { name: 'driver_stats', key: 'driver_id', ttlMs: 2 * 86_400_000 },
  { name: 'rider_stats', key: 'rider_id', ttlMs: 7 * 86_400_000 },
  { name: 'driver_quality', key: 'driver_id', ttlMs: 0 },
];
const snapshot = buildSnapshot({
  views: VIEWS.map((v) => ({
    name: v.name,
    entities: { [v.key.replace('_id', '')]: { [v.key]: 'int64' as const } },
    ttlMs: v.ttlMs,
    source: { path: path.relative(ROOT, file(v.name)), timestampField: 'event_ts', createdTimestampField: 'created_ts' },
    features: { f_double: 'float64' as const, f_int: 'int64' as const, f_float: 'float32' as const },
  })),
});
const features = VIEWS.flatMap((v) => ['f_double', 'f_int', 'f_float'].map((f) => `${v.name}:${f}`));
/** The bench's floor (bench/offline.ts): one ASOF LEFT JOIN per view, no ttl, tie-break or order. */
const floorSql = () => `SELECT e.*, a.f_double AS a_double, a.f_int AS a_int, a.f_float AS a_float,
    b.f_double AS b_double, b.f_int AS b_int, b.f_float AS b_float, c.f_double AS c_double, c.f_int AS c_int, c.f_float AS c_float
  FROM read_parquet(${literal(file('entities')).inline()}) e
  ASOF LEFT JOIN read_parquet(${literal(file('driver_stats')).inline()}) a ON e.driver_id = a.driver_id AND e.event_timestamp >= a.event_ts
  ASOF LEFT JOIN read_parquet(${literal(file('rider_stats')).inline()}) b ON e.rider_id = b.rider_id AND e.event_timestamp >= b.event_ts
  ASOF LEFT JOIN read_parquet(${literal(file('driver_quality')).inline()}) c ON e.driver_id = c.driver_id AND e.event_timestamp >= c.event_ts`;

const store = await DuckDBOfflineStore.create({ repoDir: ROOT, offlineDataDir: path.join(outDir, 'offline-profile'), tempDirectory: path.join(outDir, 'tmp'), threads });
const cpuOf = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;
const measure = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await fn();
  const c = process.cpuUsage(c0);
  console.log(`${label.padEnd(40)} wall ${((performance.now() - t0) / 1000).toFixed(2)} s  cpu ${cpuOf(c).toFixed(2)} s (sys ${(c.system / 1e6).toFixed(2)})`);
  return r;
};
const request = { entities: { file: file('entities') }, features, fullFeatureNames: true, useMaterializations: false };
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

const dump = arg('dump');
const abIndex = process.argv.indexOf('--ab');
if (dump) {
  const job = await store.historical(snapshot, { ...request, tieOrder: process.argv.includes('--measure') ? 'measure' : 'auto' });
  writeFileSync(dump, `${job.explain()}\n`);
  await job.close();
  console.log(`wrote ${dump}`);
} else if (abIndex >= 0) {
  const names = process.argv.slice(abIndex + 1).filter((a) => !a.startsWith('--'));
  const texts = names.map((n) => (n === 'floor' ? floorSql() : readFileSync(n, 'utf8')));
  const conn = await store.session.connect();
  await loadEntityTable(store.session, conn, request.entities);
  const cpu = names.map(() => [] as number[]);
  const sys = names.map(() => [] as number[]);
  console.log(`load average before: ${load()}`);
  for (let r = 0; r < RUNS; r++) {
    for (const [i, text] of texts.entries()) {
      const c0 = process.cpuUsage();
      await store.session.exec(sql`COPY (${trusted(text)}) TO ${trusted(literal(path.join(outDir, `ab-${i}.parquet`)).inline())} (FORMAT parquet)`, conn);
      const c = process.cpuUsage(c0);
      cpu[i].push(cpuOf(c));
      sys[i].push(c.system / 1e6);
    }
  }
  for (const [i, n] of names.entries()) {
    console.log(`${path.basename(n).padEnd(28)} cpu best ${Math.min(...cpu[i]).toFixed(3)} s  runs [${cpu[i].map((x) => x.toFixed(2)).join(' ')}]  sys [${sys[i].map((x) => x.toFixed(2)).join(' ')}]`);
  }
  console.log(`load average after: ${load()}`);
  conn.closeSync();
} else {
  for (let i = 0; i < RUNS; i++) {
    const job = await measure('prepare (entities, stats, plan)', () => store.historical(snapshot, request));
    if (i === 0 && process.argv.includes('--sql')) console.log(job.explain());
    await measure('join → Parquet', () => job.writeFile(path.join(outDir, 'profile.parquet')));
    if (i === 0 && process.argv.includes('--analyze')) {
      const conn = (job as unknown as { conn: import('@duckdb/node-api').DuckDBConnection }).conn;
      await conn.run("PRAGMA enable_profiling = 'query_tree'");
      await conn.run(`PRAGMA profiling_output = ${literal(path.join(outDir, 'profile.txt')).inline()}`);
      await store.session.exec(sql`COPY (${job.sql}) TO ${trusted(literal(path.join(outDir, 'profile2.parquet')).inline())} (FORMAT parquet)`, conn);
      await conn.run('PRAGMA disable_profiling');
      console.log(`profile written to ${path.join(outDir, 'profile.txt')}`);
    }
    await job.close();
  }
  console.log(`load average after: ${load()}`);
}
await store.close();
