/**
 * Profiling aid for the offline PIT join (not a benchmark: no floor, prints what it measured).
 *
 *   npx tsx bench/offline-profile.ts [--quick] [--sql] [--analyze] [--runs=N]
 *
 * Uses the data `npm run bench:offline` generated (bench/data/<size>/). `--sql` prints the
 * generated query; each run times the preparation (entity load, tie order, plan) apart from the
 * join; `--analyze` writes DuckDB's query-tree profile of the join to bench/data/out/profile.txt.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBOfflineStore } from '../src/offline/duckdb-offline-store.ts';
import { trusted, sql, literal } from '../src/offline/sql.ts';
import { buildSnapshot } from '../test/support/snapshot.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
const runsArg = process.argv.find((a) => a.startsWith('--runs='));
const RUNS = runsArg ? Number(runsArg.split('=')[1]) : 2;
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

const store = await DuckDBOfflineStore.create({ repoDir: ROOT, offlineDataDir: path.join(outDir, 'offline-profile'), tempDirectory: path.join(outDir, 'tmp') });
const measure = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await fn();
  const c = process.cpuUsage(c0);
  console.log(`${label.padEnd(40)} wall ${((performance.now() - t0) / 1000).toFixed(2)} s  cpu ${((c.user + c.system) / 1e6).toFixed(2)} s`);
  return r;
};
const request = { entities: { file: file('entities') }, features, fullFeatureNames: true, useMaterializations: false };
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
await store.close();
