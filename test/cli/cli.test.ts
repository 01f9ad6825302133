import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateExampleData } from '../../src/example/generate.ts';
import { ROOT, copyExampleRepo, runCli, tempDir } from './helpers.ts';

const exec = promisify(execFile);

// One copy of the example repository (with small generated data) shared by the steps below,
// which run in order like a user at a terminal.
let repo: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir: repo, cleanup } = await tempDir('pitstop-cli-'));
  await copyExampleRepo(repo);
  await generateExampleData({ outDir: path.join(repo, 'data'), rows: 2000 });
}, 30_000);
afterAll(() => cleanup());

const cli = (...argv: string[]) => runCli([...argv, '--repo', repo]);

describe('CLI end to end on a copy of the example repository', () => {
  it('validate reports the definitions valid', async () => {
    const r = await cli('validate');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('definitions are valid: 5 file(s), 3 entities, 5 sources, 5 feature views, 2 feature services\n');
  });

  it('registry commands say nothing was applied yet', async () => {
    expect(await cli('registry', 'history')).toMatchObject({ code: 0, stdout: 'No registry versions yet (run pitstop apply).\n' });
    const show = await cli('registry', 'show');
    expect(show.code).toBe(1);
    expect(show.stderr).toMatch(/error REGISTRY_EMPTY: no registry version has been applied/);
    expect(existsSync(path.join(repo, '.pitstop')), 'reading must not create registry state').toBe(false);
  });

  it('plan lists everything as added; apply writes version 1', async () => {
    const plan = await cli('plan');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('registry version 0 → 1');
    expect(plan.stdout).toContain('+ feature_view rider_driver_affinity → new version 1');
    expect(plan.stdout).toContain('15 change(s); 5 feature view version(s) to create.');
    const apply = await cli('apply');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(/Applied registry version 1 \(hash [0-9a-f]{12}\)\./);
    const again = await cli('apply');
    expect(again.stdout).toContain('No changes');
    expect(again.stdout).toContain('Registry unchanged at version 1.');
  });

  it('a schema change makes a new view version; the pinned service keeps version 1', async () => {
    const file = path.join(repo, 'definitions/riders.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('ttl: 2d', 'ttl: 3d'));
    const plan = await cli('plan');
    expect(plan.stdout).toContain('~ feature_view rider_stats changed → new version 2');
    expect(plan.stdout).toContain('ttl: 2d → 3d');
    expect((await cli('apply')).stdout).toContain('Applied registry version 2');

    const show = await cli('registry', 'show', '--json');
    const snapshot = JSON.parse(show.stdout);
    expect(snapshot.version).toBe(2);
    expect(snapshot.featureViews.rider_stats.latest).toBe(2);
    expect(snapshot.featureServices.match_ranker.features.slice(0, 3)).toEqual([
      { view: 'rider_stats', version: 1, feature: 'avg_fare_7d', pinned: true },
      { view: 'rider_stats', version: 1, feature: 'trips_7d', pinned: true },
      { view: 'rider_stats', version: 2, feature: 'is_premium', pinned: false },
    ]);
    const old = await cli('registry', 'show', '--version', '1');
    expect(old.stdout).toContain('registry version 1 of project ridehail');
    expect(old.stdout).toContain('rider_stats@1 [rider] ttl 2d');
    const history = await cli('registry', 'history');
    expect(history.stdout.split('\n').filter((l) => /^\d/.test(l)).map((l) => l.split(/\s+/)[0])).toEqual(['1', '2']);
    expect(history.stdout).toContain('rider_stats@2');
  });

  it('a rejected definition exits non-zero, names file:line and path, and leaves the registry untouched', async () => {
    const before = await readdir(path.join(repo, '.pitstop/registry/versions'));
    const file = path.join(repo, 'definitions/zones.yaml');
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.replace('type: float64\n        expr', 'type: flaot64\n        expr').replace('ttl: 15m', 'ttl: 15 minutes'));
    try {
      for (const command of ['validate', 'plan', 'apply']) {
        const r = await cli(command);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).toContain(`pitstop ${command}: error DEFINITION_INVALID: feature definitions are invalid: 2 problems`);
        expect(r.stderr).toContain('definitions/zones.yaml:16 feature_views[0].ttl: bad ttl "15 minutes"');
        expect(r.stderr).toContain('definitions/zones.yaml:22 feature_views[0].features[3].type: unknown type "flaot64"');
      }
      expect(await readdir(path.join(repo, '.pitstop/registry/versions'))).toEqual(before);
    } finally {
      await writeFile(file, good);
    }
  });

  it('expression problems are caught before apply (DuckDB parse + source columns)', async () => {
    const file = path.join(repo, 'definitions/zones.yaml');
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.replace('available_drivers::DOUBLE / nullif(open_requests, 0)', 'available_driverz / (select 1)').replace('- { name: open_requests, type: int32 }', '- { name: open_requestz, type: int32 }'));
    try {
      const r = await cli('apply');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('definitions/zones.yaml:18 feature_views[0].features[0].name: column "open_requestz" is not in source "zone_demand_source" (did you mean "open_requests"?)');
      expect(r.stderr).toContain('definitions/zones.yaml:23 feature_views[0].features[3].expr: subqueries are not allowed');
    } finally {
      await writeFile(file, good);
    }
    expect((await cli('validate')).code).toBe(0);
  });

  it('usage errors exit 2', async () => {
    expect((await cli('registry', 'show', '--version', 'x')).code).toBe(2);
    expect((await cli('plan', '--bogus')).code).toBe(2);
    expect((await cli('example', 'generate', '--rows', '-5')).code).toBe(2);
  });

  it('a missing pitstop.yaml is CONFIG_NOT_FOUND', async () => {
    const r = await runCli(['validate', '--repo', path.join(repo, 'definitions')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error CONFIG_NOT_FOUND/);
  });

  it('two applies at once as separate processes: one version each or a clean conflict, never corruption', async () => {
    const file = path.join(repo, 'definitions/drivers.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('ttl: 1h', 'ttl: 2h'));
    const apply = () =>
      exec(process.execPath, ['bin/pitstop.mjs', 'apply', '--repo', repo], { cwd: ROOT }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const results = await Promise.all([apply(), apply()]);
    expect(results, JSON.stringify(results)).toHaveLength(2);
    const winners = results.filter((r) => r.code === 0 && r.stdout.includes('Applied registry version 3'));
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => !winners.includes(x))) {
      // The loser either lost the race for version 3 or started after it and found nothing to do.
      const conflict = r.code === 1 && r.stderr.includes('error REGISTRY_CONFLICT');
      const unchanged = r.code === 0 && r.stdout.includes('Registry unchanged at version 3');
      expect(conflict || unchanged).toBe(true);
    }
    const history = JSON.parse((await cli('registry', 'history', '--json')).stdout);
    expect(history.map((h: { version: number }) => h.version)).toEqual([1, 2, 3]);
    expect((await cli('registry', 'show', '--version', '3')).code).toBe(0);
  }, 30_000);

  it('npx pitstop works from the repository root through bin/pitstop.mjs', async () => {
    const r = await exec(process.execPath, ['bin/pitstop.mjs', '--help'], { cwd: ROOT });
    for (const name of ['validate', 'plan', 'apply', 'registry history', 'registry show', 'schema', 'example generate', 'quickstart']) {
      expect(r.stdout).toContain(`  ${name}`);
    }
  }, 30_000);
});

describe('quickstart', () => {
  it('generates missing data, validates and applies on a fresh copy; a second run changes nothing', async () => {
    const { dir, cleanup: done } = await tempDir('pitstop-qs-');
    try {
      await copyExampleRepo(dir);
      const first = await runCli(['quickstart', '--repo', dir, '--no-serve']);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toContain('Generating example data');
      expect(first.stdout).toContain('Applied registry version 1.');
      expect(first.stdout).toContain('Next steps:');
      const second = await runCli(['quickstart', '--repo', dir, '--no-serve']);
      expect(second.stdout).toContain('Example data present');
      expect(second.stdout).toContain('Registry unchanged at version 1.');
    } finally {
      await done();
    }
  }, 30_000);
});
