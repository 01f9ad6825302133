/**
 * `pitstop consistency` end to end, in process, on a throwaway repository: apply, materialize,
 * check (clean), push rows online only (ahead of offline) and with --offline (still consistent),
 * check again (exit 3, text and JSON), thresholds and bad arguments; embedded store and Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { BASE_DEFS, runCli, tempDir, writeRepo } from '../cli/helpers.ts';
import { writeTable } from '../offline/support/data.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { main } from '../../src/cli/main.ts';
import { Writable } from 'node:stream';

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await main(argv, { stdout: w((s) => (stdout += s)), stderr: w((s) => (stderr += s)), env, interactive: false });
  return { code, stdout, stderr };
}

let repo: { dir: string; cleanup: () => Promise<void> };
let redis: RedisServer;
const NOW = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();
const MIN = 60_000;
const HOUR = 60 * MIN;

beforeAll(async () => {
  repo = await tempDir('pitstop-consistency-cli-');
  await writeRepo(repo.dir, BASE_DEFS);
  // rider 2 is 3 h old (ttl 2h → EXPIRED); rider 3's avg_fare is null (trip_count 0).
  await writeTable(path.join(repo.dir, 'data/trips/t.parquet'),
    [['rider_id', 'BIGINT'], ['event_ts', 'TIMESTAMPTZ'], ['trips_today', 'BIGINT'], ['fare_sum', 'DOUBLE'], ['trip_count', 'BIGINT']],
    [
      [1, iso(NOW - 2 * HOUR), 1, 10, 1],
      [1, iso(NOW - 30 * MIN), 4, 40, 4],
      [2, iso(NOW - 3 * HOUR), 9, 90, 3],
      [3, iso(NOW - 30 * MIN), null, 5, 0],
      [4, iso(NOW - 20 * MIN), 2, 7, 2],
    ]);
  const applied = await runCli(['apply', '--repo', repo.dir]);
  expect(applied.code).toBe(0);
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.stop();
  await repo?.cleanup();
});

const FEATURES = ['--features', 'rider_stats:trips_today,rider_stats:avg_fare'];

describe.each([
  ['embedded', () => ({})],
  ['redis', () => ({ PITSTOP_REDIS_URL: redis.url })],
])('pitstop consistency (%s)', (_name, envOf) => {
  it('passes right after materialize, fails with exit 3 once rows are pushed online only', async () => {
    const env = envOf();
    const m = await cli(['materialize', '--repo', repo.dir, '--start', iso(NOW - 10 * HOUR), '--end', 'now'], env);
    expect(m.code).toBe(0);
    const clean = await cli(['consistency', '--repo', repo.dir, ...FEATURES, '--json'], env);
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    const report = JSON.parse(clean.stdout);
    expect(report.views[0]).toMatchObject({ view: 'rider_stats@1', offline_entities: 4, sampled_entities: 4 });
    expect(report.views[0].features[0].counts).toEqual({ MATCH: 3, MISMATCH: 0, MISSING_ONLINE: 0, STALE_ONLINE: 0, AHEAD_ONLINE: 0, EXPIRED: 1 });
    expect(report.passed).toBe(true);

    // Rider 4 pushed online only (ahead of offline); rider 1 pushed with --offline (stays consistent).
    const online = path.join(repo.dir, 'online-only.json');
    await writeFile(online, JSON.stringify([{ rider_id: 4, event_timestamp: iso(NOW - MIN), trips_today: 3, avg_fare: 4 }]));
    expect((await cli(['push', '--repo', repo.dir, '--view', 'rider_stats', '--file', online], env)).code).toBe(0);
    const both = path.join(repo.dir, 'both.json');
    await writeFile(both, JSON.stringify([{ rider_id: 1, event_timestamp: iso(NOW - 5 * MIN), trips_today: 5, avg_fare: 8 }]));
    expect((await cli(['push', '--repo', repo.dir, '--view', 'rider_stats', '--file', both, '--offline'], env)).code).toBe(0);

    const text = await cli(['consistency', '--repo', repo.dir, '--feature-service', 'eta_model'], env);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/^rider_stats@1 {2}offline entities 4, sampled 4, ttl 2h, max online lag 0, max online ahead 19m/m);
    expect(text.stdout).toMatch(/trips_today +2 +0 +0 +0 +1 +1 +25\.00%/);
    expect(text.stdout).toMatch(/trips_today AHEAD_ONLINE rider_id=4: offline 2 @ .*, online 3 @ /);
    expect(text.stdout).toMatch(/8 values compared, mismatch rate 25\.00% \(max allowed 0\.00%\): FAIL/);

    const json = JSON.parse((await cli(['consistency', '--repo', repo.dir, ...FEATURES, '--json'], env)).stdout);
    expect(json.views[0].features.map((f: { counts: { AHEAD_ONLINE: number } }) => f.counts.AHEAD_ONLINE)).toEqual([1, 1]);
    expect(json.mismatch_rate).toBe(0.25);
    const tolerant = await cli(['consistency', '--repo', repo.dir, ...FEATURES, '--max-mismatch-rate', '0.25', '--sample', '10', '--seed', '7'], env);
    expect(tolerant.code).toBe(0);
    expect(tolerant.stdout).toMatch(/: PASS\n$/);
    // At a time before the pushes' event times the online rows are ahead of offline for riders 1 and 4 (rider 1's push log row is later too).
    const past = JSON.parse((await cli(['consistency', '--repo', repo.dir, ...FEATURES, '--json', '--at', iso(NOW - 10 * MIN)], env)).stdout);
    expect(past.views[0].features[0].counts.AHEAD_ONLINE).toBe(2);
  });
});

describe('bad arguments', () => {
  it('exit 2 for usage errors, 1 for unknown features or views not online', async () => {
    const bad = async (...argv: string[]) => cli(['consistency', '--repo', repo.dir, ...argv]);
    expect((await bad()).code).toBe(2);
    expect((await bad(...FEATURES, '--feature-service', 'eta_model')).code).toBe(2);
    const sample = await bad(...FEATURES, '--sample', '0');
    expect(sample.code).toBe(2);
    expect(sample.stderr).toMatch(/--sample must be a whole number >= 1, got "0"/);
    expect((await bad(...FEATURES, '--max-mismatch-rate', '1.5')).stderr).toMatch(/--max-mismatch-rate "1\.5": expected a number from 0 to 1/);
    expect((await bad(...FEATURES, '--at', 'soon')).code).toBe(2);
    const unknown = await bad('--features', 'nope:x');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/UNKNOWN_FEATURE_VIEW/);
  });
});
